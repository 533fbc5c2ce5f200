// Process control: the app and redis-server the bench starts, the build, and stopping all of it.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_NODE_FLAGS, staleBuildReason } from '../../lib/app-launcher.mjs';
import { findFreePort } from '../../lib/redis-server.mjs';
import { bin, repoRoot, run } from '../../lib/run.mjs';
import { FORCE_BUILD, progress } from './options.mjs';

/** What is running now; phases read and replace these (cleanup stops whatever is set). */
export const state = {
  /** @type {import('../../lib/redis-server.mjs').RedisServerHandle | null} */
  redisServer: null,
  /** @type {import('node:child_process').ChildProcess | null} */
  appProcess: null,
  /** The durable phase's own redis-server (it is killed on purpose), or null. */
  /** @type {import('../../lib/redis-server.mjs').RedisServerHandle | null} */
  durableRedis: null,
  /** The durable phase's throwaway database (dropped by cleanup), or null. */
  /** @type {{ name: string, adminUrl: string } | null} */
  benchDatabase: null,
  shuttingDown: false,
  /** @type {Promise<void> | null} */
  cleanupPromise: null,
};
/** The app's last output lines (shown when something fails). */
/** @type {string[]} */
export const appLog = [];
/** Connections and clients to close before the app stops. */
/** @type {Array<() => void>} */
export const closers = [];

export function appAlive() {
  return state.appProcess !== null && state.appProcess.exitCode === null && state.appProcess.signalCode === null;
}

/** Signals the app's whole process group (it is started detached, as its own group). */
function signalApp(/** @type {NodeJS.Signals} */ signal) {
  if (!appAlive() || !state.appProcess?.pid) return;
  try {
    process.kill(-state.appProcess.pid, signal);
  } catch {
    state.appProcess.kill(signal);
  }
}

export async function stopApp() {
  if (!appAlive()) return;
  const exited = new Promise((resolve) => state.appProcess?.once('exit', resolve));
  signalApp('SIGTERM');
  const timer = setTimeout(() => signalApp('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Stops everything this process started; safe to call more than once. */
export function cleanup() {
  state.cleanupPromise ??= (async () => {
    state.shuttingDown = true;
    for (const close of closers.splice(0)) {
      try {
        close();
      } catch {
        // best effort
      }
    }
    await stopApp();
    if (state.redisServer) await state.redisServer.destroy();
    if (state.durableRedis) await state.durableRedis.destroy();
    await dropBenchDatabase();
  })();
  return state.cleanupPromise;
}

// Last resort (an exit we did not plan): never leave the app running. redis-server.mjs does the same
// for Redis.
process.on('exit', () => signalApp('SIGKILL'));
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    if (state.shuttingDown) return;
    progress(`\nbench: ${sig}, stopping the app and Redis...`);
    void cleanup().finally(() => process.exit(128 + (os.constants.signals[sig] ?? 0)));
  });
}

/**
 * A pg client whose connection dies emits 'error' on itself, which ends the process when nobody
 * listens; its query in flight (or next one) fails as well, and that is where the bench reports it.
 * @param {Error} err
 */
export function pgConnectionFailed(err) {
  console.error(`bench: PostgreSQL connection failed: ${err.message}`);
}

/** Drops the durable phase's database, if one was created (FORCE: the app may still hold connections). */
async function dropBenchDatabase() {
  if (!state.benchDatabase) return;
  const { name, adminUrl } = state.benchDatabase;
  state.benchDatabase = null;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on('error', pgConnectionFailed);
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    progress(`bench: dropped database ${name}`);
  } catch (error) {
    console.error(`bench: could not drop database ${name}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * How the app is served: `server` is the production server (`npm start`: scripts/server.mjs, /api/trpc
 * on Node), `next` is a bare `next start` (/api/trpc through Next's App Router route, as `next dev`
 * serves it); the request path phase measures both.
 * @typedef {'server' | 'next'} AppServer
 */

/**
 * The command line of the app. With BENCH_APP_CPU_PROF=<dir> in the bench's environment, the
 * production server writes a V8 CPU profile there when it exits (cut it by phase with the
 * `monotonicUs` ranges of the --json output).
 * @param {AppServer} server @param {number} port
 * @returns {[string, string[]]}
 */
function appCommand(server, port) {
  if (server === 'next') return [bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1']];
  const profDir = process.env.BENCH_APP_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`] : [];
  return [process.execPath, [...SERVER_NODE_FLAGS, ...prof, path.join(repoRoot, 'scripts', 'server.mjs'), '-p', String(port), '-H', '127.0.0.1']];
}

/**
 * Starts the app on a free port against `redisUrl` and waits for GET /api/health = 200.
 * `extraEnv` is set on top of the app's defaults (the durable phase passes DATABASE_URL and
 * OUTBOX_CONSUMER).
 * @param {string} redisUrl
 * @param {Record<string, string>} [extraEnv]
 * @param {AppServer} [server]
 */
export async function startApp(redisUrl, extraEnv = {}, server = 'server') {
  const port = await findFreePort();
  // The app's defaults, whatever this shell exports: no DATABASE_URL (the bench must never write its
  // messages into someone's PostgreSQL, and it measures the Redis path), and the default event log
  // length (the bench's mirror of the append arguments assumes it, and memory per message depends on it).
  const env = { ...process.env, REDIS_URL: redisUrl, PORT: String(port), NODE_ENV: 'production' };
  delete env.DATABASE_URL;
  delete env.EVENT_LOG_MAXLEN;
  // No AI PM unless a phase asks for it (its jobs and answers would change what the other phases measure).
  for (const name of Object.keys(env)) if (name.startsWith('AI_')) delete env[name];
  // The bench measures speed, not the abuse limits: one user sends as fast as it can and holds 100
  // event streams, and searches back to back, all far over what a person does (README, "Abuse limits").
  Object.assign(env, {
    LIMIT_SEND_PER_10S: '0',
    LIMIT_SEND_PER_10MIN: '0',
    LIMIT_SEARCH_PER_MIN: '0',
    LIMIT_CHANGE_PER_MIN: '0',
    SSE_MAX_PER_USER: '10000',
  });
  Object.assign(env, extraEnv);
  const [command, args] = appCommand(server, port);
  const child = spawn(command, args, {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches the bench, which stops the app itself (after closing its SSE
    // streams), and the whole group can be signalled.
    detached: true,
  });
  state.appProcess = child;
  const collect = (/** @type {Buffer} */ chunk) => {
    appLog.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (appLog.length > 60) appLog.splice(0, appLog.length - 60);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const spawnFailed = new Promise((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!appAlive()) {
      await Promise.race([spawnFailed, sleep(10)]);
      throw new Error(`the app (${server}) exited during start (code ${child.exitCode})\n--- app log ---\n${appLog.join('\n')}`);
    }
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/health', agent: false, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
    });
    if (ok) return port;
    if (Date.now() > deadline) throw new Error(`the app did not answer GET /api/health within 60 s\n--- app log ---\n${appLog.join('\n')}`);
    await sleep(200);
  }
}

/** Which code was measured: the commit, whether the tree had local changes, and the build's age. */
export function gitState() {
  /** @type {{ commit?: string, dirty?: boolean, buildId?: string, builtAt?: string }} */
  const git = {};
  try {
    git.commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    git.dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== '';
  } catch {
    // not a git checkout
  }
  try {
    const buildId = path.join(repoRoot, '.next', 'BUILD_ID');
    git.buildId = fs.readFileSync(buildId, 'utf8').trim();
    git.builtAt = fs.statSync(buildId).mtime.toISOString();
  } catch {
    // no build
  }
  return git;
}

/**
 * Builds the app when there is no build, when it is older than its sources (measuring stale code is
 * worse than waiting for a build; `npm start` follows the same rule), or with --build.
 */
export async function ensureBuild() {
  const reason = FORCE_BUILD ? '--build' : staleBuildReason();
  if (!reason) return;
  progress(`bench: building the app (${reason}): next build`);
  // Build output goes to stderr, so --json keeps stdout for the JSON document.
  const code = await run(bin('next'), ['build'], { stdio: ['ignore', 2, 2] });
  if (code !== 0) throw new Error(`next build failed (exit ${code})`);
}
