// What `npm run dev` and `npm start` share: install what is missing, find or start Redis, run a
// Next.js command or the production server with REDIS_URL set, and shut everything down together.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ensureDependencies, ensureRedisServerInstalled, pingRedis, startRedisServer } from './redis-server.mjs';
import { exitCodeOf, forwardSignals, repoRoot } from './run.mjs';

export const DEV_REDIS_PORT = 6390;
const DEV_REDIS_URL = `redis://127.0.0.1:${DEV_REDIS_PORT}`;

/**
 * @typedef {object} AppRedis
 * @property {string} url
 * @property {() => Promise<void>} release Stops Redis if this process started it; otherwise no-op.
 */

/**
 * The Redis the app should use: a cluster when REDIS_CLUSTER_NODES is set; REDIS_URL if it answers; else the project's Redis on port 6390 if it
 * is already running (an earlier `npm run dev`); else a new one from redis.conf with its data in
 * .data/redis.
 * @returns {Promise<AppRedis>}
 */
export async function findOrStartRedis() {
  // A Redis Cluster is the operator's (the app connects to it and ignores REDIS_URL): start nothing.
  const clusterNodes = process.env.REDIS_CLUSTER_NODES;
  if (clusterNodes) {
    console.log(`Parley: using the Redis Cluster at ${clusterNodes} (REDIS_CLUSTER_NODES)`);
    return { url: process.env.REDIS_URL ?? DEV_REDIS_URL, release: async () => {} };
  }
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    if (await pingRedis(fromEnv, 2000)) {
      console.log(`Parley: using Redis at ${redactUrl(fromEnv)} (REDIS_URL)`);
      return { url: fromEnv, release: async () => {} };
    }
    console.warn(
      `Parley: REDIS_URL=${redactUrl(fromEnv)} does not answer PING; using the project's Redis on port ${DEV_REDIS_PORT} instead.`,
    );
  }

  if (await pingRedis(DEV_REDIS_URL, 1000)) {
    console.log(`Parley: reusing the Redis already running on port ${DEV_REDIS_PORT}`);
    return { url: DEV_REDIS_URL, release: async () => {} };
  }

  await ensureRedisServerInstalled();
  const dir = path.join(repoRoot, '.data', 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const redis = await startRedisServer({
    port: DEV_REDIS_PORT,
    dir,
    confFile: path.join(repoRoot, 'redis.conf'),
    // Development data can grow: give Redis time to replay a large AOF before giving up.
    readyTimeoutMs: 120_000,
  });
  console.log(
    `Parley: started Redis on port ${DEV_REDIS_PORT} (pid ${redis.pid}) from redis.conf, data in ${path.relative(repoRoot, dir)}/`,
  );
  return {
    url: redis.url,
    release: async () => {
      await redis.stop();
      console.log('Parley: Redis stopped');
    },
  };
}

/**
 * Hides the password of a Redis URL for logging.
 * @param {string} url
 */
function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Resolves once something accepts TCP connections on localhost:`port`, or never if `isDone()` turns
 * true first. Used to print the URL after Next.js is listening (without sending it a request, which
 * in dev would trigger a compile).
 * @param {number} port
 * @param {() => boolean} isDone
 * @returns {Promise<boolean>} whether the port opened
 */
async function waitForPort(port, isDone) {
  while (!isDone()) {
    const open = await new Promise((resolve) => {
      const socket = net.connect({ host: 'localhost', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/**
 * Runs `next <args>` with inherited stdio and REDIS_URL/PORT in its env. Signals sent to this process
 * are forwarded. When `announcePort` is set, prints the app URL once the port accepts connections.
 * @param {string[]} args
 * @param {{ redisUrl: string, port?: number, announcePort?: boolean }} options
 * @returns {Promise<number>} exit code
 */
export function runNext(args, options) {
  return runApp(path.join(repoRoot, 'node_modules', '.bin', 'next'), args, options);
}

/**
 * Runs the production server (scripts/server.mjs: /api/trpc on Node, the rest through Next) on `port`,
 * like runNext.
 * @param {{ redisUrl: string, port: number, announcePort?: boolean }} options
 * @returns {Promise<number>} exit code
 */
export function runProductionServer(options) {
  return runApp(process.execPath, [...SERVER_NODE_FLAGS, path.join(repoRoot, 'scripts', 'server.mjs'), '-p', String(options.port)], options);
}

/**
 * Node flags of the production server (`npm start`, the e2e suite and the bench start it with them).
 * A 64 MB young generation instead of Node's 16 MB: a request allocates a few hundred short-lived
 * objects (Web Request/Response, tRPC's plumbing, ioredis commands), and with the default the
 * scavenger ran often enough to be about a tenth of the server's CPU under load (`npm run bench`,
 * CPU profile); fewer, larger scavenges cost less in all, for up to ~100 MB more resident memory.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];

/**
 * @param {string} command @param {string[]} args
 * @param {{ redisUrl: string, port?: number, announcePort?: boolean }} options
 * @returns {Promise<number>} exit code
 */
function runApp(command, args, { redisUrl, port, announcePort = false }) {
  const env = { ...process.env, REDIS_URL: redisUrl };
  if (port !== undefined) env.PORT = String(port);
  const child = spawn(command, args, {
    cwd: repoRoot,
    stdio: 'inherit',
    env,
  });
  const stopForwarding = forwardSignals(child);
  let done = false;
  if (announcePort && port !== undefined) {
    void waitForPort(port, () => done).then((open) => {
      if (open) console.log(`\n  Parley: open http://localhost:${port}\n`);
    });
  }
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      done = true;
      stopForwarding();
      reject(err);
    });
    child.once('exit', (code, signal) => {
      done = true;
      stopForwarding();
      resolve(exitCodeOf(code, signal));
    });
  });
}

/** Inputs of the production build: if any is newer than .next/BUILD_ID, the build is stale. */
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

/**
 * Why the production build (.next) must be built before it is served or measured: there is none
 * yet, or one of its inputs changed since it was made. `npm start` and `npm run bench` both use this
 * rule, so neither ever runs stale code.
 * @returns {string | undefined} the reason, or undefined if the current build is fine
 */
export function staleBuildReason() {
  const buildId = path.join(repoRoot, '.next', 'BUILD_ID');
  if (!fs.existsSync(buildId)) return 'no production build yet';
  const builtAt = fs.statSync(buildId).mtimeMs;
  const changed = BUILD_INPUTS.find((input) => newestMtime(path.join(repoRoot, input)) > builtAt);
  return changed ? `${changed} changed since the last build` : undefined;
}

/** The port the app listens on: env PORT, else 3000. */
export function appPort() {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`PORT must be a TCP port number, got ${JSON.stringify(process.env.PORT)}`);
  }
  return port;
}

/**
 * Runs `main` and exits with its code; on an error prints its message (no stack for the expected
 * "install this" errors) and exits 1.
 * @param {() => Promise<number>} main
 */
export function runMain(main) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      const message = error instanceof Error ? error.message : String(error);
      if (/^sudo apt-get install/.test(message)) {
        console.error(`Parley needs a system package. Run:\n\n  ${message}\n`);
      } else {
        console.error(error);
      }
      process.exit(1);
    },
  );
}

export { ensureDependencies };
