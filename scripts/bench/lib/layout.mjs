// Our storage layout as the bench writes and reads it straight on Redis, and seed 000's for comparison.
//
// Our keys come from the app's own key builders (src/server/redis/keys.ts, loaded through tsx: see
// package.json's "bench" script); a sanity check after the first HTTP sends (checkLayout) still fails
// the run if what the bench writes by itself (the append script's arguments) no longer matches what the
// app writes.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { keys } from '../../../src/server/redis/keys.ts';
import { expandLua, forTopology } from '../../../src/server/redis/lua/load-lua.mjs';
import { repoRoot } from '../../lib/run.mjs';
import { PROJECT_RECENT_MAX } from './options.mjs';

export { keys as ourKeys };

/** env.EVENT_LOG_MAXLEN's default (startApp removes EVENT_LOG_MAXLEN from the app's environment). */
export const EVENT_LOG_MAXLEN = 10_000;

// Seed 000's layout, as its store_chat_message writes it (plain `{project_id}` interpolation, no
// hash-tag braces, so these keys never collide with ours).
export const seedKeys = {
  message: (/** @type {string} */ pid, /** @type {string} */ sid, /** @type {string} */ mid) =>
    `project:${pid}:sessions:${sid}:messages:${mid}`,
  list: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}:messages`,
  session: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}`,
};
export const SEED_TTL_SECONDS = 3600;

/**
 * Lua text of one of our scripts for a standalone Redis (src/server/redis/lua/<file>.lua, includes expanded and `WAKE` set by the same
 * helper the server uses): the bench runs exactly the Lua the app runs, without compiling server code.
 * @param {string} file the script's file name without `.lua`
 */
export function ourScript(file) {
  return forTopology(expandLua(path.join(repoRoot, 'src', 'server', 'redis', 'lua', `${file}.lua`)), false);
}

/** Python's datetime.isoformat() of a naive UTC datetime, as the seed writes created_at. */
export const pyIsoformat = (/** @type {string} */ iso) => iso.replace(/\.(\d{3})Z$/, '.$1000');

/**
 * json.dumps(message.dict()) of seed 000's UnifiedMessage: all its fields, Python's default
 * separators (", " and ": ").
 * @param {{ id: string, projectId: string, sessionId: string, role: string, content: string, createdAt: string }} m
 */
export function seedMessageJson(m) {
  const created = pyIsoformat(m.createdAt);
  const fields = [
    ['id', JSON.stringify(m.id)],
    ['project_id', JSON.stringify(m.projectId)],
    ['session_id', JSON.stringify(m.sessionId)],
    ['role', JSON.stringify(m.role)],
    ['content', JSON.stringify(m.content)],
    ['created_at', JSON.stringify(created)],
    ['updated_at', JSON.stringify(created)],
    ['metadata', '{}'],
    ['ai_response', 'null'],
    ['confidence', 'null'],
    ['status', '"delivered"'],
    ['is_edited', 'false'],
    ['reactions', '[]'],
  ];
  return `{${fields.map(([k, v]) => `"${k}": ${v}`).join(', ')}}`;
}

/**
 * EVALSHA arguments of our append script for a plain user message, with the keys and arguments
 * ChatStore.appendMessage passes.
 * @param {{ appendSha: string, user: { id: string, username: string } }} opts
 */
export function appendArgsFor({ appendSha, user }) {
  return (/** @type {string} */ projectId, /** @type {string} */ sid, /** @type {string} */ content) => {
    const id = randomUUID();
    const at = new Date();
    const iso = at.toISOString();
    // encodeMessage(StoredMessage) for a plain user message: defaults are left out of the body.
    const body = JSON.stringify({ id, authorId: user.id, authorName: user.username, role: 'user', content, createdAt: iso });
    return [
      appendSha, 7,
      keys.session(projectId, sid), keys.messages(projectId, sid), keys.messageIds(projectId),
      keys.sessions(projectId), keys.recent(projectId), keys.events(projectId), keys.project(projectId),
      id, body, iso, at.getTime(), sid, EVENT_LOG_MAXLEN, PROJECT_RECENT_MAX, keys.wakeChannel(projectId),
      projectId, // ARGV 9, used only with the optional outbox key (durable tier), which the bench leaves off
    ];
  };
}

/**
 * Sanity check that the app wrote what the bench expects of it (see the header): a hash of `count`
 * bodies by seq and the session's lastSeq.
 * @param {import('ioredis').Redis} redis @param {string} pid @param {string} sid @param {number} count
 */
export async function checkLayout(redis, pid, sid, count) {
  const [type, length, lastSeq] = await Promise.all([
    redis.type(keys.messages(pid, sid)),
    redis.hlen(keys.messages(pid, sid)).catch(() => -1),
    redis.hget(keys.session(pid, sid), 'lastSeq'),
  ]);
  if (type !== 'hash' || length !== count || Number(lastSeq) !== count) {
    throw new Error(
      `bench: the app's Redis layout no longer matches the bench's append arguments (lib/layout.mjs) ` +
        `(${keys.messages(pid, sid)}: type ${type}, ${length} fields, lastSeq ${lastSeq}; expected a hash of ${count})`,
    );
  }
}
