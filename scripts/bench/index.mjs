// `npm run bench`: Parley's speed, measured from the outside, next to seed 000's storage pattern.
//
//   npm run bench                  full run (about 1-2 minutes after the build on a 2-core machine)
//   npm run bench -- --quick       shorter run with the same phases (CI smoke check)
//   npm run bench -- --json        JSON on stdout instead of the table (progress goes to stderr)
//   npm run bench -- --build       run `next build` first even if the build is up to date
//   npm run bench -- --ai-only     only the AI PM phase (after the setup)
//   npm run bench -- --only=baseline,request-path   only these phases (after the setup; names in PHASES)
//   npm run bench -- --cluster     only the scale-out comparison: 1 and 2 instances on standalone Redis and
//                                  on a 3-master Redis Cluster (scripts/bench/cluster.mjs)
//
// It starts its own throwaway redis-server (the project's redis.conf - AOF everysec, RDB snapshots,
// noeviction - on a free port with a temp data dir) and the production app (scripts/server.mjs, as
// `npm start` runs it; `next build` first when there is no build or the build is older than its
// sources, like `npm start`),
// then talks to the app over plain HTTP exactly as an outside client would: tRPC without a transformer (mutation = POST /api/trpc/<path> with the JSON input as body,
// query = GET /api/trpc/<path>?input=<JSON>), the session cookie from auth.signUp, and SSE for
// events.subscribe. Straight-to-Redis measurements (our page read and append, seed 000's pattern)
// run on the same Redis through ioredis.
//
// Durable tier phase (only when PostgreSQL answers at 127.0.0.1:5432 as user postgres, trust auth;
// otherwise it says it skipped it): in a throwaway database parley_bench_<random>, with its own fresh
// redis-server and a second `next start` that has DATABASE_URL set, it builds an outbox backlog with
// OUTBOX_CONSUMER=false, restarts the app with the consumer on and times the drain into PostgreSQL
// (entries/s), then kills that redis-server and times message.list served by PostgreSQL (first read
// and steady state), restarts Redis and waits for /api/health to report "ok" again.
//
// AI PM phase: a scripted OpenAI-compatible server in this process (scripts/lib/fake-openai.mjs) streams
// every answer at a fixed token rate; a `next start` with AI_BASE_URL pointing at it answers N questions
// sent at once (N concurrent generations) while one SSE subscriber (a tab) follows the project. It
// reports the time from send to the first ai_pm token in the tab, that token's delay behind the model's
// first token, the app's CPU per streamed token, events/s and event log entries per answer.
//
// Everything it starts is stopped at the end, on an error and on Ctrl-C. Missed targets are
// reported, not fatal; the exit code is non-zero only when the run itself failed (an error, a failed
// request, or a fan-out subscriber that missed or duplicated a message).
//
// Layout: this file sets up (Redis, the app, a signed-in user, a project and sessions) and runs the
// phases of PHASES in order; each phase is a module exporting `run(ctx)` (ctx: BenchContext below) that
// adds its rows, targets and ratios to the report (lib/report.mjs). Shared helpers are in lib/:
// options and sizes, HTTP and SSE clients, process control, CPU accounting, the storage layout (our key
// builders are the app's own, src/server/redis/keys.ts, which is why `npm run bench` runs this file
// with tsx) and the table/JSON output.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDependencies, ensureRedisServerInstalled, startRedisServer } from '../lib/redis-server.mjs';
import { repoRoot } from '../lib/run.mjs';
import { Api, HttpError } from './lib/http-client.mjs';
import { appendArgsFor, ourScript } from './lib/layout.mjs';
import { AI_ONLY, CLUSTER_ONLY, JSON_OUT, ONLY, QUICK, SIZES, progress } from './lib/options.mjs';
import { appLog, appAlive, cleanup, closers, ensureBuild, gitState, startApp, state } from './lib/processes.mjs';
import { report, round } from './lib/report.mjs';
import { fmt, jsonDocument, renderTable } from './lib/table.mjs';
import { now } from './lib/workload.mjs';

/**
 * The phases, in the order they run: [name, module]. A phase module exports `run(ctx)`; adding a phase
 * is one line here. Phases that use the main app (ctx.port) come before `durable`, which stops it.
 * @type {Array<[string, () => Promise<{ run: (ctx: BenchContext) => Promise<void> }>]>}
 */
const PHASES = [
  ['baseline', () => import('./baseline.mjs')],
  ['send', () => import('./send.mjs')],
  ['signals', () => import('./signals.mjs')],
  ['saves', () => import('./saves.mjs')],
  ['pages', () => import('./pages.mjs')],
  ['fanout', () => import('./fanout.mjs')],
  ['memory', () => import('./memory.mjs')],
  ['request-path', () => import('./request-path.mjs')],
  ['durable', () => import('./durable.mjs')],
  ['ai', () => import('./ai.mjs')],
  ['search', () => import('./search.mjs')],
];

/**
 * What every phase gets: the main Redis and app, a signed-in user with a project and three sessions,
 * and `results`, through which a phase hands figures to later ones.
 * @typedef {object} BenchContext
 * @property {typeof import('ioredis').Redis} Redis
 * @property {import('ioredis').Redis} redis the main redis-server, straight (RESP2, one connection)
 * @property {string} redisUrl
 * @property {number} port the main app
 * @property {Api} api one keep-alive connection, signed in
 * @property {Api} pool SIZES.sendC32.concurrency connections, signed in as the same user
 * @property {{ id: string, username: string }} user
 * @property {string} pid the main project
 * @property {{ A: string, B: string, C: string }} sessions A: c=1 sends and pages, B: c=32 sends, C: raw appends
 * @property {(projectId: string, title: string) => Promise<string>} newSession
 * @property {(projectId: string, sid: string, content: string) => unknown[]} appendArgs EVALSHA arguments of our append
 * @property {Record<string, any>} results
 */

async function main() {
  await ensureDependencies();
  await ensureRedisServerInstalled();
  if (CLUSTER_ONLY) {
    // A comparison of its own (standalone vs a 3-master cluster, 1 and 2 app instances): it starts
    // its own Redis servers and apps, and prints its own table.
    await ensureBuild();
    const { benchCluster, printClusterTable } = await import('./cluster.mjs');
    const cluster = await benchCluster({ quick: QUICK, progress });
    if (JSON_OUT) process.stdout.write(`${JSON.stringify({ ok: true, cluster }, null, 2)}\n`);
    else printClusterTable(cluster);
    process.exit(0);
  }
  const { Redis } = await import('ioredis');

  // The project's own redis.conf (AOF everysec, RDB snapshots, noeviction), on a free port and in a
  // temp dir: the production settings, including a BGSAVE when a run makes 10,000 changes in a minute.
  const redisServer = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  state.redisServer = redisServer;
  progress(`bench: Redis ${redisServer.url} (pid ${redisServer.pid}, temp dir ${redisServer.dir})`);
  await ensureBuild();
  const port = await startApp(redisServer.url);
  const started = now();
  progress(`bench: app http://127.0.0.1:${port} (scripts/server.mjs, pid ${state.appProcess?.pid})`);

  // RESP2, like the app (src/server/redis/client.ts); one connection, commands awaited one by one.
  const redis = new Redis(redisServer.url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  closers.push(() => redis.disconnect());
  const api = new Api(port, 1);
  const pool = new Api(port, SIZES.sendC32.concurrency);
  closers.push(() => api.close(), () => pool.close());

  const infoServer = await redis.info('server');
  const meta = {
    mode: QUICK ? 'quick' : 'full',
    node: process.version,
    redis: /redis_version:(\S+)/.exec(infoServer)?.[1] ?? '?',
    next: JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'next', 'package.json'), 'utf8')).version,
    cpus: os.cpus().length,
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
    ...gitState(),
    date: new Date().toISOString(),
  };

  // ---- setup: a user, a project and sessions, all through the API
  const username = `bench_${Date.now().toString(36)}`;
  const signUp = await api.call('POST', 'auth.signUp', { username, password: 'bench-password-1' });
  const setCookie = signUp.headers['set-cookie']?.find((c) => c.startsWith('parley_session='));
  if (!setCookie) throw new Error('auth.signUp did not set the parley_session cookie');
  api.cookie = pool.cookie = setCookie.split(';')[0] ?? '';
  const user = /** @type {{ id: string, username: string }} */ (signUp.data);
  const pid = /** @type {string} */ ((await api.mutation('project.create', { name: 'Bench' })).id);
  const newSession = async (/** @type {string} */ projectId, /** @type {string} */ title) =>
    /** @type {string} */ ((await api.mutation('session.create', { projectId, title })).id);
  const sessions = {
    A: await newSession(pid, 'c=1 sends and pages'),
    B: await newSession(pid, 'c=32 sends'),
    C: await newSession(pid, 'raw Lua appends'),
  };
  const appendSha = /** @type {string} */ (await redis.script('LOAD', ourScript('append-message-7')));

  /** @type {BenchContext} */
  const ctx = {
    Redis,
    redis,
    redisUrl: redisServer.url,
    port,
    api,
    pool,
    user,
    pid,
    sessions,
    newSession,
    appendArgs: appendArgsFor({ appendSha, user }),
    results: {},
  };
  const unknown = [...(ONLY ?? [])].filter((name) => !PHASES.some(([known]) => known === name));
  if (unknown.length > 0) throw new Error(`--only: no phase named ${unknown.join(', ')} (phases: ${PHASES.map(([n]) => n).join(', ')})`);
  for (const [name, load] of PHASES) {
    if ((AI_ONLY && name !== 'ai') || (ONLY && !ONLY.has(name))) continue;
    await (await load()).run(ctx);
  }
  return { meta, elapsedSeconds: round((now() - started) / 1000, 1) };
}

// ------------------------------------------------------------------------------------ entry point

let exitCode = 0;
try {
  const result = await main();
  await cleanup();
  if (JSON_OUT) process.stdout.write(`${jsonDocument({ ok: report.failures.length === 0, ...result })}\n`);
  else process.stdout.write(`\n${renderTable(result)}\n`);
  if (report.failures.length > 0) {
    for (const failure of report.failures) console.error(`bench: FAILED: ${failure}`);
    exitCode = 1;
  }
} catch (error) {
  // After Ctrl-C the signal handler stops everything and exits; requests cut short by it end here.
  if (state.shuttingDown && state.cleanupPromise) await new Promise(() => undefined);
  exitCode = 1;
  console.error(`\nbench: the run failed: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && !(error instanceof HttpError) && error.stack) console.error(error.stack);
  if (state.appProcess && !appAlive()) {
    console.error(`bench: the app is gone (exit code ${state.appProcess.exitCode}, signal ${state.appProcess.signalCode})`);
  }
  if (appLog.length > 0 && !state.shuttingDown) console.error(`--- app log (tail) ---\n${appLog.slice(-20).join('\n')}`);
  if (report.rows.length > 0) {
    console.error('\nMeasured before the failure:');
    for (const r of report.rows) console.error(`  ${r.name}: n=${r.n} p50=${fmt(r.p50)} p99=${fmt(r.p99)} ms`);
  }
  if (JSON_OUT) process.stdout.write(`${jsonDocument({ ok: false, error: String(error) })}\n`);
  await cleanup().catch(() => undefined);
}
process.exit(exitCode);
