// `npm start`: like `npm run dev`, but serves a production build (`next start`).
//
// Builds first when there is no build yet, when `--build` is passed, or when a source file is newer
// than the build (so `npm start` never silently serves stale code).
// Env: PORT (default 3000), REDIS_URL.
import fs from 'node:fs';
import path from 'node:path';
import { appPort, ensureDependencies, findOrStartRedis, runMain, runNext } from './lib/app-launcher.mjs';
import { repoRoot } from './lib/run.mjs';

/** Inputs of the build: if any is newer than .next/BUILD_ID, the build is stale. */
const BUILD_INPUTS = ['src', 'public', 'next.config.ts', 'package.json', 'package-lock.json', 'tsconfig.json'];

/**
 * Newest modification time among `entry` and (for a directory) everything under it.
 * @param {string} entry
 * @returns {number}
 */
function newestMtime(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of fs.readdirSync(entry)) {
    newest = Math.max(newest, newestMtime(path.join(entry, name)));
  }
  return newest;
}

/** @returns {string | undefined} why a build is needed, or undefined if the current one is fine */
function buildReason() {
  if (process.argv.includes('--build')) return '--build was passed';
  const buildId = path.join(repoRoot, '.next', 'BUILD_ID');
  if (!fs.existsSync(buildId)) return 'no production build yet';
  const builtAt = fs.statSync(buildId).mtimeMs;
  const changed = BUILD_INPUTS.find((input) => newestMtime(path.join(repoRoot, input)) > builtAt);
  return changed ? `${changed} changed since the last build` : undefined;
}

const unknownArgs = process.argv.slice(2).filter((arg) => arg !== '--build');
if (unknownArgs.length > 0) {
  console.error(`Unknown argument(s): ${unknownArgs.join(' ')}\nUsage: npm start [-- --build]`);
  process.exit(2);
}

runMain(async () => {
  await ensureDependencies();
  const port = appPort();
  const redis = await findOrStartRedis();
  try {
    const reason = buildReason();
    if (reason) {
      console.log(`Parley: building (${reason}): next build`);
      const code = await runNext(['build'], { redisUrl: redis.url });
      if (code !== 0) return code;
    }
    return await runNext(['start', '-p', String(port)], { redisUrl: redis.url, port, announcePort: true });
  } finally {
    await redis.release();
  }
});
