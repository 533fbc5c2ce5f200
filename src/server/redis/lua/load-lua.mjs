// Reads the Lua scripts in this folder, expanding their includes. Plain ESM with no dependencies, so
// the server (src/server/redis/scripts.ts) and the bench (scripts/bench/lib/layout.mjs) run exactly the
// same Lua without the bench compiling TypeScript.
//
// Layout (BullMQ's convention): one script per file, `<name>-<key count>.lua`, each opening with a
// `--[[ ... ]]` header that lists its KEYS[i] and ARGV[i] and what it returns. The count in the name is
// the number of keys always passed; a script that also takes the change feed (outbox) as an OPTIONAL
// trailing key lists it as `KEYS[n] outbox (optional)` and is called with n - 1 or n keys.
// Shared code lives in includes/ and is pulled in with a line `--- @include "<path>"` (relative to the
// including file, `.lua` optional); each file is included at most once per script, where it is first
// named, so an include may itself include what it needs.
import fs from 'node:fs';
import path from 'node:path';

const INCLUDE = /^--- @include "([^"]+)"\s*$/;

/**
 * The script in `file` with its includes expanded.
 * @param {string} file absolute path of a .lua file
 * @param {Set<string>} [seen] files already included (shared while expanding one script)
 * @returns {string}
 */
export function expandLua(file, seen = new Set([file])) {
  const dir = path.dirname(file);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => {
      const m = INCLUDE.exec(line);
      if (!m?.[1]) return line;
      const target = path.resolve(dir, m[1].endsWith('.lua') ? m[1] : `${m[1]}.lua`);
      if (!fs.existsSync(target)) throw new Error(`${file}: cannot include ${m[1]} (${target} does not exist)`);
      if (seen.has(target)) return `-- (${m[1]} included above)`;
      seen.add(target);
      return expandLua(target, seen).replace(/\n$/, '');
    })
    .join('\n');
}

/**
 * A script as a connection runs it: with the local `WAKE` that every script publishes its project's
 * channels through set to `SPUBLISH` on a Redis Cluster (sharded pub/sub) and `PUBLISH` on a standalone
 * Redis (see src/server/redis/scripts.ts). The server and the bench both go through this, so the bench
 * runs the Lua the app runs.
 * @param {string} lua an expanded script
 * @param {boolean} cluster
 * @returns {string}
 */
export function forTopology(lua, cluster) {
  return `local WAKE = '${cluster ? 'SPUBLISH' : 'PUBLISH'}'\n${lua}`;
}

/**
 * Every script in `dir` (not its includes/), expanded: file name without `.lua` -> Lua text.
 * @param {string} dir
 * @returns {Map<string, string>}
 */
export function loadLuaScripts(dir) {
  const scripts = new Map();
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith('.lua')) continue;
    scripts.set(name.slice(0, -'.lua'.length), expandLua(path.join(dir, name)));
  }
  if (scripts.size === 0) throw new Error(`no Lua scripts in ${dir}`);
  return scripts;
}
