// `npm run bench`: Parley's speed, measured from the outside, next to seed 000's storage pattern.
//
//   npm run bench                  full run (about 1-2 minutes after the build on a 2-core machine)
//   npm run bench -- --quick       shorter run with the same phases (CI smoke check)
//   npm run bench -- --json        JSON on stdout instead of the table (progress goes to stderr)
//   npm run bench -- --build       run `next build` first even if the build is up to date
//   npm run bench -- --ai-only     only the AI PM phase (after the setup)
//
// It starts its own throwaway redis-server (the project's redis.conf - AOF everysec, RDB snapshots,
// noeviction - on a free port with a temp data dir) and the production app (`next start`; it runs
// `next build` first when there is no build or the build is older than its sources, like `npm start`),
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
import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { staleBuildReason } from './lib/app-launcher.mjs';
import { benchSearch } from './lib/bench-search.mjs';
import { benchTyping } from './lib/bench-typing.mjs';
import { prng } from './lib/prng.mjs';
import { expandLua } from '../src/server/redis/lua/load-lua.mjs';
import { startFakeOpenAI } from './lib/fake-openai.mjs';
import { ensureDependencies, ensureRedisServerInstalled, findFreePort, startRedisServer } from './lib/redis-server.mjs';
import { bin, formatDuration, repoRoot, run } from './lib/run.mjs';

// ------------------------------------------------------------------------------------------ options

const USAGE = 'Usage: npm run bench [-- --quick] [-- --json] [-- --build] [-- --ai-only]';
const argv = process.argv.slice(2);
for (const arg of argv) {
  if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  }
  if (!['--quick', '--json', '--build', '--ai-only'].includes(arg)) {
    console.error(`Unknown argument: ${arg}\n${USAGE}`);
    process.exit(2);
  }
}
const QUICK = argv.includes('--quick');
const JSON_OUT = argv.includes('--json');
const FORCE_BUILD = argv.includes('--build');
const AI_ONLY = argv.includes('--ai-only');

// In --json mode stdout carries the JSON document only; progress and any library chatter go to stderr.
if (JSON_OUT) console.log = (...args) => console.error(...args);
const progress = (/** @type {string} */ line) => console.error(line);

const SIZES = QUICK
  ? {
      baseline: { warmup: 100, n: 1000 },
      sendC1: { warmup: 50, n: 300 },
      sendC32: { warmup: 100, n: 2000, concurrency: 32 },
      listSessionMin: 1000,
      saveWarmup: 50,
      pages: { warmup: 20, n: 200 },
      fanout: { subscribers: 100, messages: 50, gapMs: 10 },
      memory: { messages: 5000 },
      durable: { messages: 1000, concurrency: 32, failoverSeconds: 3 },
      ai: { generations: 20, tokens: 40, tokenMs: 20 },
    }
  : {
      baseline: { warmup: 200, n: 3000 },
      sendC1: { warmup: 200, n: 2000 },
      sendC32: { warmup: 500, n: 10_000, concurrency: 32 },
      listSessionMin: 1000,
      saveWarmup: 200,
      pages: { warmup: 100, n: 1000 },
      fanout: { subscribers: 100, messages: 300, gapMs: 10 },
      memory: { messages: 20_000 },
      durable: { messages: 5000, concurrency: 32, failoverSeconds: 5 },
      ai: { generations: 20, tokens: 100, tokenMs: 20 },
    };
const PAGE = 50;

const TARGETS = {
  sendP50Ms: 3,
  sendP99Ms: 15,
  sendsPerSecC32: 2000,
  pageSpeedup: 2,
  fanoutP99Ms: 50,
  memoryRatio: 0.5,
  /** The first ai_pm token in a tab, after the model sent it (p50). */
  aiFirstTokenOverheadMs: 50,
  /** The app's CPU per streamed token. */
  aiCpuMsPerToken: 0.05,
};

// ----------------------------------------------------------- mirror of the app's storage layout
// The bench writes and reads our layout straight on Redis, so it must build the same keys and script
// arguments as src/server/redis/keys.ts and ChatStore.appendMessage / listMessages. It cannot import
// that TypeScript (server-only, path aliases), so the key builders are repeated here; a sanity check
// after the HTTP sends (checkLayout) fails the run if they no longer match what the app writes.
const ourKeys = {
  project: (/** @type {string} */ pid) => `project:{${pid}}`,
  sessions: (/** @type {string} */ pid) => `project:{${pid}}:sessions`,
  session: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:{${pid}}:sessions:${sid}`,
  messages: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:{${pid}}:sessions:${sid}:messages`,
  messageIds: (/** @type {string} */ pid) => `project:{${pid}}:messages:ids`,
  recent: (/** @type {string} */ pid) => `project:{${pid}}:recent`,
  events: (/** @type {string} */ pid) => `project:{${pid}}:events`,
  wakeChannel: (/** @type {string} */ pid) => `project:{${pid}}:wake`,
  projectSignals: (/** @type {string} */ pid) => `project:{${pid}}:signals`,
};
/** env.EVENT_LOG_MAXLEN's default (startApp removes EVENT_LOG_MAXLEN from the app's environment). */
const EVENT_LOG_MAXLEN = 10_000;
/** LIMITS.projectRecentMax in src/shared/limits.ts. */
const PROJECT_RECENT_MAX = 1000;

// Seed 000's layout, as its store_chat_message writes it (plain `{project_id}` interpolation, no
// hash-tag braces, so these keys never collide with ours).
const seedKeys = {
  message: (/** @type {string} */ pid, /** @type {string} */ sid, /** @type {string} */ mid) =>
    `project:${pid}:sessions:${sid}:messages:${mid}`,
  list: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}:messages`,
  session: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}`,
};
const SEED_TTL_SECONDS = 3600;

/**
 * Lua text of one of our scripts (src/server/redis/lua/<file>.lua, includes expanded by the same
 * helper the server uses): the bench runs exactly the Lua the app runs, without compiling server code.
 * @param {string} file the script's file name without `.lua`
 */
function ourScript(file) {
  return expandLua(path.join(repoRoot, 'src', 'server', 'redis', 'lua', `${file}.lua`));
}

// ------------------------------------------------------------------------------------ utilities

const now = () => performance.now();

/**
 * Waits for `promise` at most `ms`; resolves true if it settled in time (rejections propagate).
 * @param {Promise<unknown>} promise @param {number} ms
 */
async function within(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const random = prng(0x9a71e7);
const randInt = (/** @type {number} */ lo, /** @type {number} */ hi) => lo + Math.floor(random() * (hi - lo + 1));

const WORDS = (
  'the sprint plan needs a review before friday so we can ship the api changes and update the ' +
  'roadmap with risks owners estimates blockers design tokens login flow redis latency dashboard ' +
  'customer feedback migration rollout staging checklist budget deadline scope meeting notes bug ' +
  'priority release candidate onboarding metrics analytics backlog refinement story points velocity'
).split(' ');

/** A realistic chat message of 80-300 characters. */
function messageContent() {
  const length = randInt(80, 300);
  let text = '';
  while (text.length < length) text += (text ? ' ' : '') + WORDS[randInt(0, WORDS.length - 1)];
  return text.slice(0, length).trimEnd() + '.';
}

/**
 * Latency summary (ms) of `samples`; throughput from `wallMs` when given.
 * @param {number[]} samples
 * @param {number} [wallMs]
 */
function summarize(samples, wallMs) {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const pct = (/** @type {number} */ p) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
  const mean = n === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) / n;
  return {
    n,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: n === 0 ? NaN : sorted[n - 1],
    mean,
    throughput: wallMs ? n / (wallMs / 1000) : null,
  };
}

const round = (/** @type {number} */ x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** Compares Redis stream ids (`<ms>-<n>`) numerically. */
function compareStreamIds(/** @type {string} */ a, /** @type {string} */ b) {
  const [am = 0n, an = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bn = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (an !== bn) return an < bn ? -1 : 1;
  return 0;
}

/** Python's datetime.isoformat() of a naive UTC datetime, as the seed writes created_at. */
const pyIsoformat = (/** @type {string} */ iso) => iso.replace(/\.(\d{3})Z$/, '.$1000');

/**
 * json.dumps(message.dict()) of seed 000's UnifiedMessage: all its fields, Python's default
 * separators (", " and ": ").
 * @param {{ id: string, projectId: string, sessionId: string, role: string, content: string, createdAt: string }} m
 */
function seedMessageJson(m) {
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

// ------------------------------------------------------------------------------- CPU accounting

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep Linux's usual 100
}

/** utime+stime (s) and ppid of every process, from /proc (Linux only; empty elsewhere). */
function procTable() {
  /** @type {Map<number, { ppid: number, cpu: number }>} */
  const table = new Map();
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) / clockTicks });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat; 0 when unavailable. */
function machineBusy() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const busy = cpu.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0);
    return busy / clockTicks;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by `rootPid` and all its descendants. */
function treeCpu(/** @type {Map<number, { ppid: number, cpu: number }>} */ table, /** @type {number} */ rootPid) {
  let total = 0;
  for (const [pid, info] of table) {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === rootPid) {
        total += info.cpu;
        break;
      }
      p = table.get(p)?.ppid ?? 0;
    }
  }
  return total;
}

// ------------------------------------------------------------------------------- HTTP client

class HttpError extends Error {}

/**
 * A tRPC-over-HTTP client with keep-alive connections (node:http, no transformer, no batching).
 */
class Api {
  /** @param {number} port @param {number} connections */
  constructor(port, connections) {
    this.port = port;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
    this.cookie = '';
  }

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} urlPath
   * @param {string | undefined} body
   * @returns {Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }>}
   */
  raw(method, urlPath, body, retried = false) {
    return new Promise((resolve, reject) => {
      /** @type {http.OutgoingHttpHeaders} */
      const headers = { accept: 'application/json' };
      if (this.cookie) headers.cookie = this.cookie;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: '127.0.0.1', port: this.port, method, path: urlPath, headers, agent: this.agent },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        // The server may close an idle keep-alive socket just as we reuse it: retry once on a new one
        // (safe: queries are reads, and message.send is idempotent by message id).
        const code = /** @type {{ code?: string }} */ (err).code;
        if (!retried && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
          this.raw(method, urlPath, body, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  /** @param {'GET' | 'POST'} method @param {string} proc @param {unknown} input */
  async call(method, proc, input) {
    const res =
      method === 'GET'
        ? await this.raw('GET', `/api/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`, undefined)
        : await this.raw('POST', `/api/trpc/${proc}`, JSON.stringify(input ?? {}));
    /** @type {any} */
    let parsed;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw new HttpError(`${proc}: HTTP ${res.status}, not JSON: ${res.body.slice(0, 200)}`);
    }
    if (res.status !== 200 || parsed.error || !parsed.result) {
      const message = parsed.error?.message ?? parsed.error?.json?.message ?? res.body.slice(0, 200);
      throw new HttpError(`${proc}: HTTP ${res.status}: ${message}`);
    }
    return { data: parsed.result.data, headers: res.headers };
  }

  /** @param {string} proc @param {unknown} input */
  async query(proc, input) {
    return (await this.call('GET', proc, input)).data;
  }

  /** @param {string} proc @param {unknown} input */
  async mutation(proc, input) {
    return (await this.call('POST', proc, input)).data;
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * One SSE subscriber of events.subscribe, on its own connection. Calls `onEvent(event, id, t)` for
 * every data event, with t = when the chunk that completed it arrived.
 */
class Subscriber {
  /**
   * @param {{ port: number, cookie: string, projectId: string, onEvent: (event: any, id: string | null, t: number) => void }} opts
   */
  constructor({ port, cookie, projectId, onEvent }) {
    this.onEvent = onEvent;
    this.closed = false;
    /** @type {Error | null} */
    this.error = null;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    const input = encodeURIComponent(JSON.stringify({ projectId }));
    this.req = http.request({
      host: '127.0.0.1',
      port,
      method: 'GET',
      path: `/api/trpc/events.subscribe?input=${input}`,
      headers: { accept: 'text/event-stream', cookie },
      agent: false,
    });
    this.req.on('response', (res) => {
      if (res.statusCode !== 200) {
        this.fail(new Error(`events.subscribe: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      /** @type {{ event: string | null, data: string[], id: string | null }} */
      let pending = { event: null, data: [], id: null };
      res.on('data', (/** @type {string} */ chunk) => {
        const t = now();
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          let line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (pending.data.length > 0) this.dispatch(pending, t);
            pending = { event: null, data: [], id: null };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') pending.data.push(value);
          else if (field === 'event') pending.event = value;
          else if (field === 'id') pending.id = value;
        }
      });
      res.on('end', () => {
        if (!this.closed) this.fail(new Error('events.subscribe: the server ended the stream'));
      });
      res.on('error', (err) => this.fail(err));
    });
    this.req.on('error', (err) => this.fail(err));
    this.req.end();
  }

  /** @param {{ event: string | null, data: string[], id: string | null }} message @param {number} t */
  dispatch(message, t) {
    if (message.event === 'serialized-error') {
      this.fail(new Error(`events.subscribe error: ${message.data.join('\n')}`));
      return;
    }
    if (message.event !== null) return; // connected, ping, return
    /** @type {any} */
    const event = JSON.parse(message.data.join('\n'));
    if (event?.type === 'ready') this.resolveReady?.(undefined);
    this.onEvent(event, message.id, t);
  }

  /** @param {Error} err */
  fail(err) {
    if (this.closed) return;
    this.error ??= err;
    this.rejectReady?.(err);
  }

  close() {
    this.closed = true;
    this.req.destroy();
  }
}

// ------------------------------------------------------------------------------ process control

/** @type {import('./lib/redis-server.mjs').RedisServerHandle | null} */
let redisServer = null;
/** @type {import('node:child_process').ChildProcess | null} */
let appProcess = null;
/** The durable phase's own redis-server (it is killed on purpose), or null. */
/** @type {import('./lib/redis-server.mjs').RedisServerHandle | null} */
let durableRedis = null;
/** The durable phase's throwaway database (dropped by cleanup), or null. */
/** @type {{ name: string, adminUrl: string } | null} */
let benchDatabase = null;
/** @type {string[]} */
const appLog = [];
/** @type {Array<() => void>} */
const closers = [];
let shuttingDown = false;

function appAlive() {
  return appProcess !== null && appProcess.exitCode === null && appProcess.signalCode === null;
}

/** Signals the app's whole process group (it is started detached, as its own group). */
function signalApp(/** @type {NodeJS.Signals} */ signal) {
  if (!appAlive() || !appProcess?.pid) return;
  try {
    process.kill(-appProcess.pid, signal);
  } catch {
    appProcess.kill(signal);
  }
}

async function stopApp() {
  if (!appAlive()) return;
  const exited = new Promise((resolve) => appProcess?.once('exit', resolve));
  signalApp('SIGTERM');
  const timer = setTimeout(() => signalApp('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Stops everything this process started; safe to call more than once. */
let cleanupPromise = null;
function cleanup() {
  cleanupPromise ??= (async () => {
    shuttingDown = true;
    for (const close of closers.splice(0)) {
      try {
        close();
      } catch {
        // best effort
      }
    }
    await stopApp();
    if (redisServer) await redisServer.destroy();
    if (durableRedis) await durableRedis.destroy();
    await dropBenchDatabase();
  })();
  return cleanupPromise;
}

// Last resort (an exit we did not plan): never leave the app running. redis-server.mjs does the same
// for Redis.
process.on('exit', () => signalApp('SIGKILL'));
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    if (shuttingDown) return;
    progress(`\nbench: ${sig}, stopping the app and Redis...`);
    void cleanup().finally(() => process.exit(128 + (os.constants.signals[sig] ?? 0)));
  });
}

/** Drops the durable phase's database, if one was created (FORCE: the app may still hold connections). */
/**
 * A pg client whose connection dies emits 'error' on itself, which ends the process when nobody
 * listens; its query in flight (or next one) fails as well, and that is where the bench reports it.
 * @param {Error} err
 */
function pgConnectionFailed(err) {
  console.error(`bench: PostgreSQL connection failed: ${err.message}`);
}

async function dropBenchDatabase() {
  if (!benchDatabase) return;
  const { name, adminUrl } = benchDatabase;
  benchDatabase = null;
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
 * Starts `next start` on a free port against `redisUrl` and waits for GET /api/health = 200.
 * `extraEnv` is set on top of the app's defaults (the durable phase passes DATABASE_URL and
 * OUTBOX_CONSUMER).
 * @param {string} redisUrl
 * @param {Record<string, string>} [extraEnv]
 */
async function startApp(redisUrl, extraEnv = {}) {
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
  const child = spawn(bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches the bench, which stops the app itself (after closing its SSE
    // streams), and the whole group can be signalled.
    detached: true,
  });
  appProcess = child;
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
      throw new Error(`next start exited during start (code ${child.exitCode})\n--- app log ---\n${appLog.join('\n')}`);
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
function gitState() {
  /** @type {{ commit?: string, dirty?: boolean, buildId?: string, builtAt?: string }} */
  const state = {};
  try {
    state.commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    state.dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== '';
  } catch {
    // not a git checkout
  }
  try {
    const buildId = path.join(repoRoot, '.next', 'BUILD_ID');
    state.buildId = fs.readFileSync(buildId, 'utf8').trim();
    state.builtAt = fs.statSync(buildId).mtime.toISOString();
  } catch {
    // no build
  }
  return state;
}

/**
 * Builds the app when there is no build, when it is older than its sources (measuring stale code is
 * worse than waiting for a build; `npm start` follows the same rule), or with --build.
 */
async function ensureBuild() {
  const reason = FORCE_BUILD ? '--build' : staleBuildReason();
  if (!reason) return;
  progress(`bench: building the app (${reason}): next build`);
  // Build output goes to stderr, so --json keeps stdout for the JSON document.
  const code = await run(bin('next'), ['build'], { stdio: ['ignore', 2, 2] });
  if (code !== 0) throw new Error(`next build failed (exit ${code})`);
}

// ------------------------------------------------------------------------------- measurements

/** @typedef {ReturnType<typeof summarize> & { name: string, note?: string }} Row */

const report = {
  /** @type {Row[]} */
  rows: [],
  /** @type {Array<{ name: string, target: string, value: number | null, unit: string, met: boolean }>} */
  targets: [],
  /** @type {Record<string, unknown>} */
  ratios: {},
  /** @type {Record<string, unknown>} */
  memory: {},
  /** @type {Record<string, unknown>} */
  fanout: {},
  /** @type {Record<string, any>} */
  durable: {},
  /** @type {Record<string, any>} */
  ai: {},
  /** @type {Array<{ phase: string, wallSeconds: number, benchCpu: number, appCpu: number, redisCpu: number, otherCpu: number, appCpuMsPerOp?: number | null, opUnit?: string, monotonicUs: number[] }>} */
  cpu: [],
  /** @type {string[]} */
  failures: [],
};

/**
 * Runs a phase, recording the CPU each of the three processes used during it. With `ops` (the HTTP
 * requests or deliveries the app handled in the phase), also the app's CPU time per operation: unlike
 * latencies, that figure hardly depends on what else the machine is doing.
 * @template T
 * @param {string} name
 * @param {() => Promise<T>} fn
 * @param {{ ops: number, unit: string }} [work]
 * @returns {Promise<T>}
 */
async function phase(name, fn, work) {
  progress(`bench: ${name}...`);
  const mono0 = process.hrtime.bigint();
  const t0 = now();
  const bench0 = process.cpuUsage();
  const table0 = procTable();
  const busy0 = machineBusy();
  const result = await fn();
  const busy1 = machineBusy();
  const table1 = procTable();
  const bench1 = process.cpuUsage(bench0);
  const wall = (now() - t0) / 1000;
  const appPid = appProcess?.pid ?? -1;
  const redisPid = (durableRedis ?? redisServer)?.pid ?? -1;
  // Average cores in use over the phase (1.0 = one core busy all the time).
  const benchCpu = (bench1.user + bench1.system) / 1e6 / wall;
  const appCpu = (treeCpu(table1, appPid) - treeCpu(table0, appPid)) / wall;
  // (0 when redis-server was restarted during the phase: its pid changed.)
  const redisCpu = Math.max(0, (table1.get(redisPid)?.cpu ?? 0) - (table0.get(redisPid)?.cpu ?? 0)) / wall;
  const machineCpu = (busy1 - busy0) / wall;
  report.cpu.push({
    phase: name,
    wallSeconds: round(wall, 2) ?? 0,
    benchCpu: round(benchCpu, 2) ?? 0,
    appCpu: round(appCpu, 2) ?? 0,
    redisCpu: round(redisCpu, 2) ?? 0,
    // Everything else on the machine (other people's builds and tests skew the numbers).
    otherCpu: round(Math.max(0, machineCpu - benchCpu - appCpu - redisCpu), 2) ?? 0,
    ...(work ? { appCpuMsPerOp: round((appCpu * wall * 1000) / work.ops, 3), opUnit: work.unit } : {}),
    // CLOCK_MONOTONIC microseconds (the clock of V8 CPU profiles): to cut a profile of the app by phase.
    monotonicUs: [Number(mono0 / 1000n), Number(process.hrtime.bigint() / 1000n)],
  });
  return result;
}

/** @param {string} name @param {number[]} samples @param {number} [wallMs] @param {string} [note] */
function addRow(name, samples, wallMs, note) {
  const row = { name, ...summarize(samples, wallMs), ...(note ? { note } : {}) };
  report.rows.push(row);
  return row;
}

/** @param {string} name @param {string} target @param {number} value @param {string} unit @param {boolean} met */
function addTarget(name, target, value, unit, met) {
  report.targets.push({ name, target, value: round(value, 2), unit, met });
}

/** INFO memory used_memory (and client buffers, to show they are not what moved). */
async function usedMemory(/** @type {import('ioredis').Redis} */ redis) {
  const info = await redis.info('memory');
  const field = (/** @type {string} */ name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { used: field('used_memory'), clients: field('mem_clients_normal') };
}

async function main() {
  await ensureDependencies();
  await ensureRedisServerInstalled();
  const { Redis } = await import('ioredis');

  // The project's own redis.conf (AOF everysec, RDB snapshots, noeviction), on a free port and in a
  // temp dir: the production settings, including a BGSAVE when a run makes 10,000 changes in a minute.
  redisServer = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  progress(`bench: Redis ${redisServer.url} (pid ${redisServer.pid}, temp dir ${redisServer.dir})`);
  await ensureBuild();
  const port = await startApp(redisServer.url);
  const started = now();
  progress(`bench: app http://127.0.0.1:${port} (next start, pid ${appProcess?.pid})`);

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

  if (AI_ONLY) {
    await aiPhase({ Redis });
    return { meta, elapsedSeconds: round((now() - started) / 1000, 1) };
  }

  // ---- setup: a user, projects and sessions, all through the API
  const username = `bench_${Date.now().toString(36)}`;
  const signUp = await api.call('POST', 'auth.signUp', { username, password: 'bench-password-1' });
  const setCookie = signUp.headers['set-cookie']?.find((c) => c.startsWith('parley_session='));
  if (!setCookie) throw new Error('auth.signUp did not set the parley_session cookie');
  api.cookie = pool.cookie = setCookie.split(';')[0] ?? '';
  const user = /** @type {{ id: string, username: string }} */ (signUp.data);
  const project = await api.mutation('project.create', { name: 'Bench' });
  const pid = /** @type {string} */ (project.id);
  const newSession = async (/** @type {string} */ projectId, /** @type {string} */ title) =>
    /** @type {string} */ ((await api.mutation('session.create', { projectId, title })).id);
  const sessionA = await newSession(pid, 'c=1 sends and pages');
  const sessionB = await newSession(pid, 'c=32 sends');
  const sessionC = await newSession(pid, 'raw Lua appends');

  const appendSha = /** @type {string} */ (await redis.script('LOAD', ourScript('append-message-7')));
  const listSha = /** @type {string} */ (await redis.script('LOAD', ourScript('list-messages-2')));

  /** EVALSHA of our append, with the keys and arguments ChatStore.appendMessage passes. */
  const appendArgs = (/** @type {string} */ projectId, /** @type {string} */ sid, /** @type {string} */ content) => {
    const id = randomUUID();
    const at = new Date();
    const iso = at.toISOString();
    // encodeMessage(StoredMessage) for a plain user message: defaults are left out of the body.
    const body = JSON.stringify({ id, authorId: user.id, authorName: user.username, role: 'user', content, createdAt: iso });
    return [
      appendSha, 7,
      ourKeys.session(projectId, sid), ourKeys.messages(projectId, sid), ourKeys.messageIds(projectId),
      ourKeys.sessions(projectId), ourKeys.recent(projectId), ourKeys.events(projectId), ourKeys.project(projectId),
      id, body, iso, at.getTime(), sid, EVENT_LOG_MAXLEN, PROJECT_RECENT_MAX, ourKeys.wakeChannel(projectId),
      projectId, // ARGV 9, used only with the optional outbox key (durable tier), which the bench leaves off
    ];
  };

  // ---- 0. baseline: the cheapest route the app has (GET /api/health: one Redis PING, no tRPC), to
  // show what Next's request handling alone costs on this machine.
  await phase('baseline: GET /api/health', async () => {
    const { warmup, n } = SIZES.baseline;
    const health = async (/** @type {Api} */ client) => {
      const t0 = now();
      const res = await client.raw('GET', '/api/health', undefined);
      if (res.status !== 200) throw new Error(`GET /api/health: HTTP ${res.status}`);
      return now() - t0;
    };
    const c1 = [];
    for (let i = 0; i < warmup + n; i++) {
      const dt = await health(api);
      if (i >= warmup) c1.push(dt);
    }
    addRow('baseline: GET /api/health, c=1', c1, undefined, 'Next route handler + 1 PING, no tRPC');
    const concurrency = SIZES.sendC32.concurrency;
    const cN = [];
    let issued = 0;
    const worker = async () => {
      while (issued < n) {
        issued++;
        cN.push(await health(pool));
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    addRow(`baseline: GET /api/health, c=${concurrency}`, cN, now() - t0, 'Next route handler + 1 PING, no tRPC');
  }, { ops: SIZES.baseline.warmup + 2 * SIZES.baseline.n, unit: 'request' });

  // ---- 1. message.send at concurrency 1
  const sendC1 = await phase('message.send, c=1', async () => {
    const samples = [];
    const { warmup, n } = SIZES.sendC1;
    for (let i = 0; i < warmup + n; i++) {
      const id = randomUUID();
      const content = messageContent();
      const t0 = now();
      const msg = await api.mutation('message.send', { projectId: pid, sessionId: sessionA, id, content });
      const dt = now() - t0;
      if (msg.id !== id || msg.seq !== i + 1) throw new Error(`message.send returned seq ${msg.seq} for send #${i + 1}`);
      if (i >= warmup) samples.push(dt);
    }
    return addRow('message.send HTTP, c=1', samples);
  }, { ops: SIZES.sendC1.warmup + SIZES.sendC1.n, unit: 'send' });
  await checkLayout(redis, pid, sessionA, SIZES.sendC1.warmup + SIZES.sendC1.n);

  // ---- 2. message.send throughput at concurrency 32
  const sendC32 = await phase(`message.send, c=${SIZES.sendC32.concurrency}`, async () => {
    const { warmup, n, concurrency } = SIZES.sendC32;
    /** @type {number[]} */
    const seqs = [];
    const runWave = async (/** @type {number} */ count, /** @type {number[] | null} */ samples) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          const id = randomUUID();
          const content = messageContent();
          const t0 = now();
          const msg = await pool.mutation('message.send', { projectId: pid, sessionId: sessionB, id, content });
          samples?.push(now() - t0);
          seqs.push(msg.seq);
        }
      };
      const t0 = now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      return now() - t0;
    };
    await runWave(warmup, null);
    const samples = [];
    const wall = await runWave(n, samples);
    const distinct = new Set(seqs);
    if (distinct.size !== warmup + n || Math.max(...seqs) !== warmup + n) {
      throw new Error(`c=${concurrency}: ${warmup + n} sends got ${distinct.size} distinct seqs (max ${Math.max(...seqs)})`);
    }
    return addRow(`message.send HTTP, c=${concurrency}`, samples, wall);
  }, { ops: SIZES.sendC32.warmup + SIZES.sendC32.n, unit: 'send' });

  // ---- 2b. message.send with and without the typing/presence traffic of 100 members x10 (issue 10):
  // scripts/lib/bench-typing.mjs.
  const signalsPhase = await phase('message.send with/without typing+presence traffic (100 members x10)', async () => {
    const { concurrency } = SIZES.sendC32;
    const publisher = new Redis(redisServer.url, { protocol: 2, maxRetriesPerRequest: 1 });
    publisher.on('error', () => undefined);
    closers.push(() => publisher.disconnect());
    const r = await benchTyping({
      api,
      pool,
      projectId: pid,
      sessionId: await newSession(pid, 'sends under typing/presence traffic'),
      publisher,
      signalChannel: ourKeys.projectSignals(pid),
      openStreams: async () => {
        const listeners = Array.from({ length: 4 }, () => new Subscriber({ port, cookie: api.cookie, projectId: pid, onEvent: () => undefined }));
        closers.push(() => listeners.forEach((l) => l.close()));
        await Promise.all(listeners.map((l) => l.ready));
        return () => listeners.forEach((l) => l.close());
      },
      messageContent,
      now,
      concurrency,
      wave: Math.max(QUICK ? 300 : 500, Math.round(SIZES.sendC32.n / 6)),
      rounds: 4,
    });
    publisher.disconnect();
    const perRound = r.rounds.map((x) => `${x.quietPerSec}/${x.busyPerSec}`).join(', ');
    const without = addRow(`message.send HTTP, c=${concurrency}, no typing/presence`, r.quiet, r.quietWall, `sends/s per round (quiet/busy): ${perRound}`);
    const withSignals = addRow(
      `message.send HTTP, c=${concurrency}, + 250 signals/s + 25 calls/s`,
      r.busy,
      r.busyWall,
      `typing+presence of 100 members x10 (${r.published} signals, ${r.calls} typing/heartbeat calls), 4 SSE streams`,
    );
    return { without, withSignals };
  });

  // On this kind of VM a Redis round trip costs ~15 us while the other core is busy and ~80 us when it
  // sits idle (waking it is slow), so results drift with whatever else runs. Ours and the seed's are
  // therefore measured interleaved, one operation of each in turn, under the same conditions.

  // ---- 3. saves straight on Redis: seed 000's 4 sequential commands vs our one Lua script.
  // Session A (>= 1,000 messages: topped up through our script in --quick) is copied into the seed
  // layout - same ids, content and times - for the page reads below; each seed save is followed by our
  // append of the same content into session C.
  let lastSeqA = SIZES.sendC1.warmup + SIZES.sendC1.n;
  if (lastSeqA < SIZES.listSessionMin) {
    const pipeline = redis.pipeline();
    for (let i = lastSeqA; i < SIZES.listSessionMin; i++) pipeline.evalsha(...appendArgs(pid, sessionA, messageContent()));
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    lastSeqA = SIZES.listSessionMin;
  }
  const sessionKeyA = ourKeys.session(pid, sessionA);
  const messagesKeyA = ourKeys.messages(pid, sessionA);
  const storedA = await redis.hgetall(messagesKeyA);
  const messagesA = Object.entries(storedA)
    .map(([seq, body]) => ({ seq: Number(seq), ...JSON.parse(body) }))
    .sort((a, b) => a.seq - b.seq);
  const seedListKey = seedKeys.list(pid, sessionA);
  const { seedWrite, luaAppend } = await phase('saves straight on Redis: seed vs ours, interleaved', async () => {
    const seedSamples = [];
    const luaSamples = [];
    const seedSessionKey = seedKeys.session(pid, sessionA);
    for (let i = 0; i < messagesA.length; i++) {
      const m = messagesA[i];
      const json = seedMessageJson({ ...m, projectId: pid, sessionId: sessionA });
      const updatedAt = pyIsoformat(m.createdAt);
      let t0 = now();
      // store_chat_message as written: four commands, one after another.
      await redis.setex(seedKeys.message(pid, sessionA, m.id), SEED_TTL_SECONDS, json);
      await redis.lpush(seedListKey, m.id);
      await redis.hset(seedSessionKey, 'last_message_at', updatedAt);
      await redis.hincrby(seedSessionKey, 'message_count', 1);
      const dtSeed = now() - t0;
      const args = appendArgs(pid, sessionC, m.content);
      t0 = now();
      const reply = /** @type {[number, number]} */ (await redis.evalsha(...args));
      const dtLua = now() - t0;
      if (reply[0] !== 1 || reply[1] !== i + 1) throw new Error(`append-message-7: unexpected reply ${JSON.stringify(reply.slice(0, 2))}`);
      if (i >= SIZES.saveWarmup) {
        seedSamples.push(dtSeed);
        luaSamples.push(dtLua);
      }
    }
    return {
      luaAppend: addRow('our append: Lua EVALSHA (Redis)', luaSamples, undefined, '1 round trip, atomic, with its event'),
      seedWrite: addRow('seed save: SETEX+LPUSH+HSET+HINCRBY (Redis)', seedSamples, undefined, '4 sequential round trips'),
    };
  });

  // ---- 4. a 50-message page at a random position of session A, four ways in turn: message.list over
  // HTTP, our list script and a bare HMGET straight on Redis, and seed 000's LRANGE + 50 GETs.
  const { listHttp, ourPageScript, seedPage } = await phase('50-message pages: HTTP and Redis, interleaved', async () => {
    const { warmup, n } = SIZES.pages;
    const viaHttp = [];
    const script = [];
    const hmget = [];
    const seed = [];
    for (let i = 0; i < warmup + n; i++) {
      const cursor = randInt(PAGE + 1, lastSeqA + 1); // a full page: seqs cursor-50 .. cursor-1
      const measured = i >= warmup;

      let t0 = now();
      const page = await api.query('message.list', { projectId: pid, sessionId: sessionA, limit: PAGE, cursor });
      const dtHttp = now() - t0;
      if (page.items.length !== PAGE || page.items[0].seq !== cursor - PAGE || page.items[PAGE - 1].seq !== cursor - 1) {
        throw new Error(`message.list cursor ${cursor}: unexpected page (${page.items.length} items)`);
      }

      t0 = now();
      const reply = /** @type {unknown[]} */ (await redis.evalsha(listSha, 2, sessionKeyA, messagesKeyA, cursor, PAGE));
      const dtScript = now() - t0;
      if (reply.length !== PAGE + 1 || reply.slice(1).some((b) => b === null)) throw new Error('LIST_MESSAGES: short page');

      const fields = Array.from({ length: PAGE }, (_, k) => cursor - 1 - k);
      t0 = now();
      const bodies = await redis.hmget(messagesKeyA, ...fields);
      const dtHmget = now() - t0;
      if (bodies.some((b) => b === null)) throw new Error('HMGET: short page');

      // get_session_messages as written: LRANGE, then one GET per id, one after another. The seed's
      // list is newest first (LPUSH), so the same 50 messages sit at offset lastSeq - (cursor - 1).
      const start = lastSeqA - (cursor - 1);
      t0 = now();
      const ids = await redis.lrange(seedListKey, start, start + PAGE - 1);
      const seedBodies = [];
      for (const id of ids) seedBodies.push(await redis.get(seedKeys.message(pid, sessionA, id)));
      const dtSeed = now() - t0;
      if (seedBodies.length !== PAGE || seedBodies.some((b) => b === null)) throw new Error('seed page: short page');

      if (measured) {
        viaHttp.push(dtHttp);
        script.push(dtScript);
        hmget.push(dtHmget);
        seed.push(dtSeed);
      }
    }
    return {
      listHttp: addRow('message.list (50) HTTP', viaHttp, undefined, `session of ${lastSeqA} messages, random cursors`),
      ourPageScript: addRow('our page: list script (Redis)', script, undefined, 'EVALSHA LIST_MESSAGES, 1 round trip'),
      ourPageHmget: addRow('our page: HMGET 50 (Redis)', hmget, undefined, '1 round trip'),
      seedPage: addRow('seed page: LRANGE + 50 GET (Redis)', seed, undefined, '51 sequential round trips'),
    };
  }, { ops: SIZES.pages.warmup + SIZES.pages.n, unit: 'page' });

  // ---- 7. fan-out: 100 SSE subscribers on one project, N sequential sends
  const fanoutStats = await phase(
    `fan-out to ${SIZES.fanout.subscribers} SSE subscribers`,
    () => fanout({ api, port, cookie: api.cookie }),
    { ops: SIZES.fanout.subscribers * SIZES.fanout.messages, unit: 'delivery' },
  );

  // ---- 8. Redis memory per stored message: our layout vs the seed's
  const memory = await phase('Redis memory per message', () => measureMemory({ redis, api, appendArgs }));

  // ---- 9. durable tier (PostgreSQL): outbox drain rate and failover reads. Stops the app above.
  await durableTier({ Redis });

  // ---- 10. AI PM: concurrent streamed answers from a model at a fixed token rate. Restarts the app.
  await aiPhase({ Redis });

  // ---- 11. search (issue 12): message.search over HTTP, the Redis scan and PostgreSQL full-text
  // search, each with its own redis-server, app and database (scripts/lib/bench-search.mjs).
  for (const row of await benchSearch({ quick: QUICK, progress })) addRow(row.name, row.samples, undefined, row.note);

  // ---- ratios and targets
  const pageSpeedupHttp = seedPage.p50 / listHttp.p50;
  const pageSpeedupRaw = seedPage.p50 / ourPageScript.p50;
  report.ratios = {
    pageSeedRawOverOurHttpP50: round(pageSpeedupHttp, 2),
    pageSeedRawOverOurHttpP99: round(seedPage.p99 / listHttp.p99, 2),
    pageSeedRawOverOurRawP50: round(pageSpeedupRaw, 2),
    pageSeedRawOverOurRawP99: round(seedPage.p99 / ourPageScript.p99, 2),
    writeSeedRawOverOurLuaP50: round(seedWrite.p50 / luaAppend.p50, 2),
    writeSeedRawOverOurHttpP50: round(seedWrite.p50 / sendC1.p50, 2),
    memoryOursOverSeed: round(memory.ratio, 3),
  };
  {
    // "Not measurably slower": within 10 % of the quiet waves' throughput (run-to-run noise here is ~5-10 %).
    const ratio = (signalsPhase.withSignals.throughput ?? 0) / (signalsPhase.without.throughput || 1);
    addTarget('sends/s with typing+presence traffic / without', '>= 0.9x', ratio, 'x', ratio >= 0.9);
  }
  addTarget('send c=1 p50', `<= ${TARGETS.sendP50Ms} ms`, sendC1.p50, 'ms', sendC1.p50 <= TARGETS.sendP50Ms);
  addTarget('send c=1 p99', `<= ${TARGETS.sendP99Ms} ms`, sendC1.p99, 'ms', sendC1.p99 <= TARGETS.sendP99Ms);
  addTarget(
    `send throughput c=${SIZES.sendC32.concurrency}`,
    `>= ${TARGETS.sendsPerSecC32} msgs/s`,
    sendC32.throughput ?? 0,
    'msgs/s',
    (sendC32.throughput ?? 0) >= TARGETS.sendsPerSecC32,
  );
  addTarget(
    'page: seed (Redis) p50 / ours (HTTP) p50',
    `>= ${TARGETS.pageSpeedup}x`,
    pageSpeedupHttp,
    'x',
    pageSpeedupHttp >= TARGETS.pageSpeedup,
  );
  addTarget(
    `fan-out to ${SIZES.fanout.subscribers} p99`,
    `<= ${TARGETS.fanoutP99Ms} ms`,
    fanoutStats.p99,
    'ms',
    fanoutStats.p99 <= TARGETS.fanoutP99Ms,
  );
  addTarget(
    'memory/message: ours / seed',
    `<= ${TARGETS.memoryRatio}`,
    memory.ratio,
    'x',
    memory.ratio <= TARGETS.memoryRatio,
  );

  return { meta, elapsedSeconds: round((now() - started) / 1000, 1) };
}

/**
 * The AI PM phase (see the header): N questions at once, each answered by the scripted model at a fixed
 * token rate, followed by one SSE subscriber.
 * @param {{ Redis: typeof import('ioredis').Redis }} deps
 */
async function aiPhase({ Redis }) {
  const { generations, tokens: tokenCount, tokenMs } = SIZES.ai;
  // A plain answer (words), ending with the confidence line the AI PM parses.
  const answerTokens = Array.from({ length: tokenCount - 1 }, (_, i) => `word${i} `);
  answerTokens.push('\n\nConfidence: 0.8');
  const fake = await startFakeOpenAI({ fallback: { tokens: answerTokens, delayMs: tokenMs } });

  await stopApp();
  for (const close of closers.splice(0)) close();
  closers.push(() => void fake.close());
  const redisHandle = durableRedis ?? redisServer;
  if (!redisHandle) throw new Error('AI phase: no Redis');
  if (!redisHandle.isRunning()) await redisHandle.restart();
  const port = await startApp(redisHandle.url, {
    AI_BASE_URL: fake.url,
    AI_MODEL: 'bench-fake',
    AI_MAX_RETRIES: '0',
    AI_PROJECT_CONCURRENCY: String(generations * 2),
    AI_USER_DAILY_QUOTA: '0',
  });
  progress(`bench: AI PM: app with AI_BASE_URL=${fake.url}, ${generations} generations of ${tokenCount} tokens every ${tokenMs} ms`);
  const redis = new Redis(redisHandle.url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  const api = new Api(port, generations);
  closers.push(() => redis.disconnect(), () => api.close());

  const signUp = await api.call('POST', 'auth.signUp', { username: `bench_ai_${Date.now().toString(36)}`, password: 'bench-password-1' });
  const cookie = signUp.headers['set-cookie']?.find((c) => c.startsWith('parley_session='))?.split(';')[0];
  if (!cookie) throw new Error('AI phase: auth.signUp did not set the parley_session cookie');
  api.cookie = cookie;
  const projectId = /** @type {string} */ ((await api.mutation('project.create', { name: 'Bench AI PM' })).id);

  /**
   * One round: `generations` questions sent at once, one per session, and their answers followed by one
   * SSE subscriber until all are finished.
   * @param {string} label
   */
  async function askAll(label) {
    const sessionIds = [];
    for (let i = 0; i < generations; i++) {
      sessionIds.push(/** @type {string} */ ((await api.mutation('session.create', { projectId, title: `${label} ${i}` })).id));
    }
    /** @type {Map<string, { tag: string, sentAt: number, firstVisibleAt: number | null, deliveredAt: number | null, events: number }>} */
    const byQuestion = new Map();
    let aiEvents = 0;
    let delivered = 0;
    let failed = 0;
    /** @type {() => void} */
    let allDone = () => undefined;
    const allDonePromise = new Promise((resolve) => (allDone = () => resolve(undefined)));
    const sub = new Subscriber({
      port,
      cookie: api.cookie,
      projectId,
      onEvent: (event, _id, t) => {
        if ((event?.type !== 'message.created' && event?.type !== 'message.updated') || event.message?.role !== 'ai_pm') return;
        const q = byQuestion.get(event.message.metadata?.replyTo);
        if (!q) return;
        aiEvents++;
        q.events++;
        if (q.firstVisibleAt === null && event.message.content !== '') q.firstVisibleAt = t;
        if (q.deliveredAt === null && event.message.status !== 'streaming') {
          q.deliveredAt = t;
          if (event.message.status === 'delivered') delivered++;
          else failed++;
          if (delivered + failed === generations) allDone();
        }
      },
    });
    closers.push(() => sub.close());
    try {
      if (!(await within(sub.ready, 30_000))) throw new Error('AI phase: the subscriber was not ready within 30 s');
      const xlen0 = await redis.xlen(ourKeys.events(projectId));
      const t0 = now();
      await Promise.all(
        sessionIds.map(async (sessionId, i) => {
          const id = randomUUID();
          const tag = `[${label} q${i}]`;
          byQuestion.set(id, { tag, sentAt: now(), firstVisibleAt: null, deliveredAt: null, events: 0 });
          await api.mutation('message.send', { projectId, sessionId, id, content: `${tag} plan the launch` });
        }),
      );
      const finished = await within(allDonePromise, 120_000);
      const wallMs = now() - t0;
      const xlen1 = await redis.xlen(ourKeys.events(projectId));
      return { byQuestion, aiEvents, delivered, failed, finished, wallMs, logEntries: xlen1 - xlen0 - generations };
    } finally {
      sub.close();
    }
  }

  // A first round warms the app up (the SDK's modules and schemas, the JIT); the second is measured.
  await askAll('warm-up');
  const result = await phase(`AI PM: ${generations} concurrent streamed answers`, () => askAll('measured'), {
    ops: generations * tokenCount,
    unit: 'token',
  });

  // The model's first token of each question (the fake records when it wrote it, on this clock).
  const sendToFirst = [];
  const behindModel = [];
  const streamingMs = [];
  for (const q of result.byQuestion.values()) {
    const request = fake.requests.find((r) => String(r.messages.at(-1)?.content ?? '').includes(q.tag));
    if (q.firstVisibleAt !== null) sendToFirst.push(q.firstVisibleAt - q.sentAt);
    if (q.firstVisibleAt !== null && request?.firstTokenAt != null) behindModel.push(q.firstVisibleAt - request.firstTokenAt);
    if (q.firstVisibleAt !== null && q.deliveredAt !== null) streamingMs.push(q.deliveredAt - q.firstVisibleAt);
  }
  const firstRow = addRow('AI PM: send -> first ai_pm token in a tab', sendToFirst, undefined, `${generations} concurrent generations`);
  const behindRow = addRow('AI PM: model first token -> shown in a tab', behindModel, undefined, 'Parley overhead');
  const cpuMsPerToken = report.cpu.at(-1)?.appCpuMsPerOp ?? null;
  // What the AI SDK itself costs per token (parsing and validating each SSE chunk), measured in this
  // process on the same library: the part of the app's CPU that is not Parley's own.
  const sdkMsPerToken = await sdkCostPerToken(fake, tokenCount * generations);
  const parleyMsPerToken = cpuMsPerToken === null ? null : cpuMsPerToken - sdkMsPerToken;
  // Messages go out of the log via the session's seq, so the growth per answer is its create, its
  // batched updates (about one per AI_FLUSH_MS = 100 ms of streaming) and its final write.
  const entriesPerAnswer = result.logEntries / generations;
  const meanStreamingMs = streamingMs.reduce((a, b) => a + b, 0) / Math.max(1, streamingMs.length);
  const logBound = Math.ceil(meanStreamingMs / 100) + 3;
  report.ai = {
    generations,
    tokensPerAnswer: tokenCount,
    tokenIntervalMs: tokenMs,
    delivered: result.delivered,
    failed: result.failed,
    finished: result.finished,
    wallSeconds: round(result.wallMs / 1000, 2),
    eventsReceived: result.aiEvents,
    eventsPerSecond: round(result.aiEvents / (result.wallMs / 1000), 1),
    logEntriesPerAnswer: round(entriesPerAnswer, 1),
    meanStreamingMs: round(meanStreamingMs, 0),
    cpuMsPerToken,
    sdkCpuMsPerToken: round(sdkMsPerToken, 4),
    parleyCpuMsPerToken: parleyMsPerToken === null ? null : round(parleyMsPerToken, 4),
    firstTokenP50Ms: round(firstRow.p50),
    behindModelP50Ms: round(behindRow.p50),
    behindModelP99Ms: round(behindRow.p99),
  };
  if (!result.finished || result.delivered !== generations) {
    report.failures.push(`AI PM: ${result.delivered}/${generations} answers delivered (${result.failed} failed) within 120 s`);
  }
  addTarget('AI PM: first token in a tab behind the model, p50', `<= ${TARGETS.aiFirstTokenOverheadMs} ms`, behindRow.p50, 'ms', behindRow.p50 <= TARGETS.aiFirstTokenOverheadMs);
  addTarget(
    'AI PM: app CPU per streamed token, less the AI SDK',
    `<= ${TARGETS.aiCpuMsPerToken} ms`,
    parleyMsPerToken ?? NaN,
    'ms',
    parleyMsPerToken !== null && parleyMsPerToken <= TARGETS.aiCpuMsPerToken,
  );
  addTarget('AI PM: event log entries per answer', `<= ${logBound} (1 per 100 ms + 3)`, entriesPerAnswer, 'entries', entriesPerAnswer <= logBound);
}

/**
 * CPU per token of the AI SDK alone (streamText over the scripted server, in this process), less the
 * scripted server's own cost for the same stream read with a plain fetch.
 * @param {{ url: string, enqueue: (...s: Array<{ tokens?: string[] }>) => void }} fake
 * @param {number} tokens
 */
async function sdkCostPerToken(fake, tokens) {
  const [{ streamText }, { createOpenAICompatible }] = await Promise.all([import('ai'), import('@ai-sdk/openai-compatible')]);
  const model = createOpenAICompatible({ name: 'bench', baseURL: fake.url, includeUsage: true }).chatModel('bench-fake');
  const pieces = Array.from({ length: tokens }, (_, i) => `word${i} `);
  const viaSdk = async () => {
    fake.enqueue({ tokens: pieces });
    const r = streamText({ model, prompt: 'bench', maxRetries: 0, onError: () => undefined });
    for await (const part of r.fullStream) void part;
  };
  const viaFetch = async () => {
    fake.enqueue({ tokens: pieces });
    const res = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bench-fake', messages: [{ role: 'user', content: 'bench' }], stream: true }),
    });
    if (!res.body) return;
    for await (const chunk of res.body) void chunk;
  };
  await viaSdk();
  await viaFetch();
  const cpu = async (/** @type {() => Promise<void>} */ fn) => {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  const sdk = await cpu(viaSdk);
  const plain = await cpu(viaFetch);
  return Math.max(0, sdk - plain) / tokens;
}

const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The durable tier phase: outbox drain rate into PostgreSQL and message.list latency while Redis is
 * down. Runs only when PostgreSQL answers at 127.0.0.1:5432 (user postgres, trust auth); otherwise
 * records why it was skipped. Uses its own database, its own redis-server and its own app process
 * (the main app is stopped first, so the two never compete for the CPU).
 * @param {{ Redis: typeof import('ioredis').Redis }} deps
 */
async function durableTier({ Redis }) {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  admin.on('error', pgConnectionFailed);
  try {
    await admin.connect();
    await admin.query('SELECT 1');
  } catch (error) {
    await admin.end().catch(() => undefined);
    const reason = `PostgreSQL does not answer at 127.0.0.1:5432 as user postgres (${error instanceof Error ? error.message : String(error)})`;
    progress(`bench: durable tier phase skipped: ${reason}`);
    report.durable = { skipped: true, reason };
    return;
  }
  const dbName = `parley_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
    benchDatabase = { name: dbName, adminUrl: PG_ADMIN_URL };
  } finally {
    await admin.end().catch(() => undefined);
  }
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
  progress(`bench: durable tier: database ${dbName}`);

  const { messages: total, concurrency, failoverSeconds } = SIZES.durable;
  await stopApp();
  for (const close of closers.splice(0)) close();
  durableRedis = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  const redisHandle = durableRedis;
  progress(`bench: durable tier: Redis ${redisHandle.url} (pid ${redisHandle.pid}), app with DATABASE_URL, OUTBOX_CONSUMER=false`);
  const appEnv = { DATABASE_URL: databaseUrl, OUTBOX_CONSUMER: 'false' };
  let port = await startApp(redisHandle.url, appEnv);

  const redis = new Redis(redisHandle.url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  closers.push(() => redis.disconnect());
  let api = new Api(port, 1);
  let pool = new Api(port, concurrency);
  closers.push(() => api.close(), () => pool.close());

  const signUp = await api.call('POST', 'auth.signUp', { username: `bench_durable_${Date.now().toString(36)}`, password: 'bench-password-1' });
  const cookie = signUp.headers['set-cookie']?.find((c) => c.startsWith('parley_session='))?.split(';')[0];
  if (!cookie) throw new Error('durable tier: auth.signUp did not set the parley_session cookie');
  api.cookie = pool.cookie = cookie;
  const projectId = /** @type {string} */ ((await api.mutation('project.create', { name: 'Bench durable' })).id);
  const sessionId = /** @type {string} */ ((await api.mutation('session.create', { projectId, title: 'durable' })).id);

  // ---- a backlog: N sends with no consumer, so every one waits in the outbox.
  await phase(`durable: ${total} sends, outbox only`, async () => {
    const samples = [];
    let issued = 0;
    const worker = async () => {
      while (issued < total) {
        issued++;
        const t0 = now();
        await pool.mutation('message.send', { projectId, sessionId, id: randomUUID(), content: messageContent() });
        samples.push(now() - t0);
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    addRow(`message.send HTTP, c=${concurrency}, durable tier on`, samples, now() - t0, 'each send also appends to the outbox');
  }, { ops: total, unit: 'send' });
  const backlog = await redis.xlen('parley:outbox');
  if (backlog < total) throw new Error(`durable tier: expected >= ${total} outbox entries with no consumer, found ${backlog}`);

  // ---- drain: restart the app with the consumer on; the consumer starts during server start, so the
  // outbox length is watched straight on Redis from the spawn on. Timed from the first drop below the
  // backlog to GET /api/health reporting outbox.entries 0; the rate counts the entries left at that drop.
  await stopApp();
  api.close();
  pool.close();
  // Everything in this Redis was written with the tier on (so it is all in the outbox already): mark the
  // dataset as backfilled (src/server/durable/backfill.ts DONE_KEY), or the consumer's first start would
  // append a second copy of every record and the drain would time twice the work.
  await redis.set('parley:outbox:backfilled', new Date().toISOString());
  const drain = await phase('durable: outbox drain into PostgreSQL', async () => {
    /** @type {{ t: number, entries: number } | null} */
    let firstDrop = null;
    let watching = true;
    const watcher = (async () => {
      while (watching && !firstDrop) {
        const entries = await redis.xlen('parley:outbox');
        if (entries < backlog) firstDrop = { t: now(), entries };
        else await sleep(5);
      }
    })();
    try {
      port = await startApp(redisHandle.url, { ...appEnv, OUTBOX_CONSUMER: 'true' });
    } catch (error) {
      watching = false;
      throw error;
    }
    api = new Api(port, 1);
    api.cookie = cookie;
    closers.push(() => api.close());
    const deadline = Date.now() + 300_000;
    for (;;) {
      const res = await api.raw('GET', '/api/health', undefined);
      const health = JSON.parse(res.body);
      if (health.outbox?.entries === 0) break;
      if (health.outbox?.deadLetters > 0) throw new Error(`durable tier: ${health.outbox.deadLetters} outbox entries dead-lettered`);
      if (Date.now() > deadline) throw new Error(`durable tier: outbox not drained within 300 s (${health.outbox?.entries} left)`);
      await sleep(20);
    }
    const end = now();
    watching = false;
    await watcher;
    if (!firstDrop) throw new Error('durable tier: the outbox never shrank');
    const wallMs = end - firstDrop.t;
    const row = {
      name: 'durable: outbox drain into PostgreSQL',
      ...summarize([], wallMs),
      n: firstDrop.entries,
      throughput: firstDrop.entries / (wallMs / 1000),
      note: 'outbox entries persisted per second (one per message send)',
    };
    report.rows.push(row);
    return { entries: firstDrop.entries, wallMs, rate: row.throughput };
  });

  // Every message is in PostgreSQL.
  const check = new pg.Client({ connectionString: databaseUrl });
  check.on('error', pgConnectionFailed);
  await check.connect();
  let persisted;
  try {
    persisted = Number((await check.query('SELECT count(*) AS n FROM messages WHERE session_id = $1', [sessionId])).rows[0].n);
  } finally {
    await check.end();
  }
  if (persisted !== total) report.failures.push(`durable tier: ${persisted}/${total} messages in PostgreSQL after the drain`);

  // ---- failover: kill redis-server, then message.list (the newest 50) over HTTP for a few seconds.
  const listPath = `/api/trpc/message.list?input=${encodeURIComponent(JSON.stringify({ projectId, sessionId, limit: PAGE }))}`;
  const listOnce = async () => {
    const t0 = now();
    const res = await api.raw('GET', listPath, undefined);
    const dt = now() - t0;
    let items = -1;
    try {
      items = JSON.parse(res.body)?.result?.data?.items?.length ?? -1;
    } catch {
      // counted as a bad answer below
    }
    return { dt, ok: res.status === 200 && items === PAGE, status: res.status, items };
  };
  await listOnce(); // warm the route with Redis up
  const failover = await phase('durable: message.list with Redis down', async () => {
    await redisHandle.kill();
    const first = await listOnce();
    const samples = [];
    let bad = first.ok ? 0 : 1;
    let lastBad = first.ok ? null : first;
    const until = now() + failoverSeconds * 1000;
    while (now() < until) {
      const r = await listOnce();
      samples.push(r.dt);
      if (!r.ok) {
        bad++;
        lastBad = r;
      }
    }
    addRow('durable: message.list (50), Redis down, first read', [first.dt], undefined, 'served by PostgreSQL');
    const steady = addRow('durable: message.list (50), Redis down, steady', samples, undefined, 'served by PostgreSQL');
    if (bad > 0) {
      report.failures.push(
        `durable tier: ${bad}/${samples.length + 1} message.list calls with Redis down were not 200 with ${PAGE} items ` +
          `(last: HTTP ${lastBad?.status}, ${lastBad?.items} items)`,
      );
    }
    return { firstMs: first.dt, firstOk: first.ok, steady, bad, calls: samples.length + 1 };
  }, undefined);

  // ---- recovery: Redis back (its AOF replayed), health must report "ok" again.
  const recovery = await phase('durable: Redis back, health recovers', async () => {
    const t0 = now();
    await redisHandle.restart();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await api.raw('GET', '/api/health', undefined);
      const health = JSON.parse(res.body);
      if (res.status === 200 && health.status === 'ok' && health.redis === 'up') return { seconds: (now() - t0) / 1000, health };
      if (Date.now() > deadline) {
        report.failures.push(`durable tier: /api/health not "ok" 30 s after Redis restarted: ${res.body.slice(0, 300)}`);
        return { seconds: null, health };
      }
      await sleep(50);
    }
  });
  const after = await listOnce();
  if (!after.ok) report.failures.push(`durable tier: message.list after recovery: HTTP ${after.status}, ${after.items} items`);

  report.durable = {
    skipped: false,
    database: dbName,
    messages: total,
    backlogEntries: backlog,
    drain: { entries: drain.entries, seconds: round(drain.wallMs / 1000, 2), entriesPerSecond: round(drain.rate, 1) },
    persistedMessages: persisted,
    failover: {
      firstReadMs: round(failover.firstMs, 2),
      firstReadOk: failover.firstOk,
      steadyCalls: failover.steady.n,
      steadyP50Ms: round(failover.steady.p50),
      steadyP99Ms: round(failover.steady.p99),
      badAnswers: failover.bad,
    },
    recovery: { seconds: recovery.seconds === null ? null : round(recovery.seconds, 2), health: recovery.health?.status },
  };
}

/**
 * Sanity check that the bench's key builders still match what the app writes (see ourKeys).
 * @param {import('ioredis').Redis} redis @param {string} pid @param {string} sid @param {number} count
 */
async function checkLayout(redis, pid, sid, count) {
  const [type, length, lastSeq] = await Promise.all([
    redis.type(ourKeys.messages(pid, sid)),
    redis.hlen(ourKeys.messages(pid, sid)).catch(() => -1),
    redis.hget(ourKeys.session(pid, sid), 'lastSeq'),
  ]);
  if (type !== 'hash' || length !== count || Number(lastSeq) !== count) {
    throw new Error(
      `bench: the app's Redis layout no longer matches the bench's mirror of src/server/redis/keys.ts ` +
        `(${ourKeys.messages(pid, sid)}: type ${type}, ${length} fields, lastSeq ${lastSeq}; expected a hash of ${count})`,
    );
  }
}

/**
 * 100 concurrent SSE subscribers on a fresh project, then N sequential sends with small gaps.
 * Delivery latency = send start -> a subscriber's receipt of that message's message.created event.
 * @param {{ api: Api, port: number, cookie: string }} opts
 */
async function fanout({ api, port, cookie }) {
  const { subscribers: count, messages, gapMs } = SIZES.fanout;
  const project = await api.mutation('project.create', { name: 'Bench fan-out' });
  const projectId = /** @type {string} */ (project.id);
  const sessionId = /** @type {string} */ ((await api.mutation('session.create', { projectId, title: 'fan-out' })).id);

  /** @type {Map<string, number>} message id -> send start */
  const sentAt = new Map();
  /** @type {number[]} */
  const latencies = [];
  /** @type {Map<string, number>} message id -> last receipt */
  const lastReceipt = new Map();
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let received = 0;
  const expected = count * messages;
  /** @type {() => void} */
  let allIn = () => undefined;
  const allInPromise = new Promise((resolve) => {
    allIn = () => resolve(undefined);
  });

  const subs = Array.from({ length: count }, () => {
    /** @type {Set<string>} */
    const seen = new Set();
    let lastSeq = 0;
    let lastEventId = '0-0';
    return new Subscriber({
      port,
      cookie,
      projectId,
      onEvent: (event, eventId, t) => {
        if (event?.type !== 'message.created') return;
        // In order: log ids and seqs only go up (one session, sends one after another).
        if (eventId === null || compareStreamIds(eventId, lastEventId) <= 0 || event.message.seq <= lastSeq) outOfOrder++;
        lastEventId = eventId ?? lastEventId;
        lastSeq = event.message.seq;
        const mid = /** @type {string} */ (event.message?.id);
        const start = sentAt.get(mid);
        if (start === undefined) {
          unexpected++;
          return;
        }
        if (seen.has(mid)) {
          duplicates++;
          return;
        }
        seen.add(mid);
        latencies.push(t - start);
        lastReceipt.set(mid, Math.max(lastReceipt.get(mid) ?? 0, t));
        if (++received === expected) allIn();
      },
    });
  });
  closers.push(() => subs.forEach((s) => s.close()));

  try {
    const ready = await within(Promise.all(subs.map((s) => s.ready)), 30_000);
    if (!ready) throw new Error(`fan-out: not all ${count} subscribers were ready within 30 s`);

    for (let i = 0; i < messages; i++) {
      const id = randomUUID();
      sentAt.set(id, now());
      await api.mutation('message.send', { projectId, sessionId, id, content: messageContent() });
      await sleep(gapMs);
    }
    await within(allInPromise, 10_000);
  } finally {
    subs.forEach((s) => s.close());
  }

  const failed = subs.filter((s) => s.error).map((s) => s.error?.message);
  const missing = expected - received;
  const perMessageLast = [...sentAt].map(([mid, start]) => (lastReceipt.get(mid) ?? NaN) - start).filter(Number.isFinite);
  const stats = addRow(
    `fan-out: send -> each of ${count} subscribers`,
    latencies,
    undefined,
    `${messages} sends, ${gapMs} ms gaps; all (subscriber, message) pairs`,
  );
  addRow(`fan-out: send -> last of ${count} subscribers`, perMessageLast, undefined, 'per message');
  const ok = missing === 0 && duplicates === 0 && unexpected === 0 && outOfOrder === 0 && failed.length === 0;
  report.fanout = {
    subscribers: count,
    messages,
    expectedDeliveries: expected,
    delivered: received,
    missing,
    duplicates,
    unexpected,
    outOfOrder,
    subscriberErrors: failed,
    exactlyOnceInOrder: ok,
  };
  if (!ok) {
    report.failures.push(
      `fan-out: ${received}/${expected} deliveries, ${missing} missing, ${duplicates} duplicate, ` +
        `${unexpected} unexpected, ${outOfOrder} out of order` +
        (failed.length ? `, ${failed.length} subscriber errors (${failed[0]})` : ''),
    );
  }
  return stats;
}

/**
 * used_memory delta for M messages in our layout (our append script, straight on Redis, pipelined)
 * and for the same messages in seed 000's layout (its 4 commands per save, pipelined: same data).
 * @param {{ redis: import('ioredis').Redis, api: Api, appendArgs: (pid: string, sid: string, content: string) => unknown[] }} opts
 */
async function measureMemory({ redis, api, appendArgs }) {
  const total = SIZES.memory.messages;
  const BATCH = 250;
  const project = await api.mutation('project.create', { name: 'Bench memory' });
  const pid = /** @type {string} */ (project.id);
  const sid = /** @type {string} */ ((await api.mutation('session.create', { projectId: pid, title: 'memory' })).id);
  const contents = Array.from({ length: total }, () => messageContent());

  const settle = async () => {
    await sleep(300);
    return usedMemory(redis);
  };

  // Ours.
  const ours0 = await settle();
  for (let i = 0; i < total; i += BATCH) {
    const pipeline = redis.pipeline();
    for (let k = i; k < Math.min(total, i + BATCH); k++) pipeline.evalsha(...appendArgs(pid, sid, contents[k]));
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }
  const ours1 = await settle();

  const usage = async (/** @type {string} */ key) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  const breakdown = {
    messagesHash: await usage(ourKeys.messages(pid, sid)),
    idIndexHash: await usage(ourKeys.messageIds(pid)),
    eventLogStream: await usage(ourKeys.events(pid)),
    recentList: await usage(ourKeys.recent(pid)),
    sessionHash: await usage(ourKeys.session(pid, sid)),
  };
  const eventLogLength = await redis.xlen(ourKeys.events(pid));

  // The seed's layout for the very same messages (ids, content and times read back from ours).
  const stored = await redis.hgetall(ourKeys.messages(pid, sid));
  const messages = Object.values(stored).map((body) => JSON.parse(body));
  if (messages.length !== total) throw new Error(`memory: expected ${total} stored messages, found ${messages.length}`);
  const seed0 = await settle();
  for (let i = 0; i < total; i += BATCH) {
    const pipeline = redis.pipeline();
    for (let k = i; k < Math.min(total, i + BATCH); k++) {
      const m = messages[k];
      const created = pyIsoformat(m.createdAt);
      pipeline
        .setex(seedKeys.message(pid, sid, m.id), SEED_TTL_SECONDS, seedMessageJson({ ...m, projectId: pid, sessionId: sid }))
        .lpush(seedKeys.list(pid, sid), m.id)
        .hset(seedKeys.session(pid, sid), 'last_message_at', created)
        .hincrby(seedKeys.session(pid, sid), 'message_count', 1);
    }
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }
  const seed1 = await settle();
  const sampleIds = messages.slice(0, 200).map((m) => m.id);
  let sampleBytes = 0;
  for (const id of sampleIds) sampleBytes += await usage(seedKeys.message(pid, sid, id));

  const oursPer = (ours1.used - ours0.used) / total;
  const seedPer = (seed1.used - seed0.used) / total;
  const perMessage = Object.fromEntries(Object.entries(breakdown).map(([k, v]) => [k, round(v / total, 1)]));
  const oursWithoutLog = oursPer - breakdown.eventLogStream / total;
  report.memory = {
    messages: total,
    contentChars: '80-300',
    oursBytesPerMessage: round(oursPer, 1),
    seedBytesPerMessage: round(seedPer, 1),
    ratio: round(oursPer / seedPer, 3),
    oursWithoutEventLogBytesPerMessage: round(oursWithoutLog, 1),
    ratioWithoutEventLog: round(oursWithoutLog / seedPer, 3),
    oursBreakdownBytesPerMessage: perMessage,
    eventLogEntries: eventLogLength,
    seedMessageKeyBytes: round(sampleBytes / sampleIds.length, 1),
    seedListBytesPerMessage: round((await usage(seedKeys.list(pid, sid))) / total, 1),
    clientBufferDeltaBytes: { ours: ours1.clients - ours0.clients, seed: seed1.clients - seed0.clients },
    avgBodyBytes: {
      ours: round(Object.values(stored).reduce((a, b) => a + Buffer.byteLength(b), 0) / total, 1),
      seed: round(
        messages.reduce((a, m) => a + Buffer.byteLength(seedMessageJson({ ...m, projectId: pid, sessionId: sid })), 0) / total,
        1,
      ),
    },
  };
  return { oursPer, seedPer, ratio: oursPer / seedPer };
}

// ------------------------------------------------------------------------------------ output

function fmt(/** @type {number | null | undefined} */ x, digits = 2) {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function renderTable(/** @type {{ meta: Record<string, unknown>, elapsedSeconds: number | null }} */ result) {
  const m = /** @type {any} */ (result.meta);
  const lines = [];
  lines.push(
    `Parley bench (${m.mode}) - Node ${m.node}, Redis ${m.redis}, Next ${m.next}, ${m.cpus} CPUs, ` +
      `load avg at start ${m.loadAverageAtStart.join(' ')}`,
  );
  lines.push(
    `Code: ${m.commit ?? '?'}${m.dirty ? ' + local changes' : ''}, build ${m.buildId ?? '?'} of ${m.builtAt ?? '?'}. ` +
      'Bench client, next start and redis-server share this machine; latencies in ms.',
  );
  lines.push('');
  const header = ['name', 'n', 'p50', 'p90', 'p99', 'max', 'throughput'];
  const rows = report.rows.map((r) => [
    r.name,
    String(r.n),
    fmt(r.p50),
    fmt(r.p90),
    fmt(r.p99),
    fmt(r.max),
    r.throughput === null ? '' : `${fmt(r.throughput, 0)} /s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) lines.push(line(row));

  const r = /** @type {any} */ (report.ratios);
  const mem = /** @type {any} */ (report.memory);
  lines.push('');
  lines.push('Ratios (seed 000 pattern / ours; > 1 means ours is faster or smaller)');
  lines.push(`  50-message page, seed straight from Redis vs ours over HTTP:   p50 ${fmt(r.pageSeedRawOverOurHttpP50)}x   p99 ${fmt(r.pageSeedRawOverOurHttpP99)}x`);
  lines.push(`  50-message page, both straight from Redis (51 RTT vs 1 RTT):   p50 ${fmt(r.pageSeedRawOverOurRawP50)}x   p99 ${fmt(r.pageSeedRawOverOurRawP99)}x`);
  lines.push(`  save, seed 4 commands vs our Lua append (both on Redis):       p50 ${fmt(r.writeSeedRawOverOurLuaP50)}x`);
  lines.push(`  save, seed 4 commands on Redis vs our message.send over HTTP:  p50 ${fmt(r.writeSeedRawOverOurHttpP50)}x`);
  lines.push('');
  lines.push(`Redis memory per message (${mem.messages} messages, 80-300 chars, INFO used_memory delta)`);
  lines.push(`  ours ${fmt(mem.oursBytesPerMessage, 0)} B   seed ${fmt(mem.seedBytesPerMessage, 0)} B   ours/seed ${fmt(mem.ratio, 3)}`);
  const b = mem.oursBreakdownBytesPerMessage ?? {};
  lines.push(
    `  ours by key (MEMORY USAGE / message): bodies hash ${fmt(b.messagesHash, 0)}, id index ${fmt(b.idIndexHash, 0)}, ` +
      `event log ${fmt(b.eventLogStream, 0)} (${mem.eventLogEntries} entries kept), recent list ${fmt(b.recentList, 0)}`,
  );
  lines.push(
    `  ours without the (bounded) event log: ${fmt(mem.oursWithoutEventLogBytesPerMessage, 0)} B, ours/seed ${fmt(mem.ratioWithoutEventLog, 3)}`,
  );
  lines.push(
    `  seed by key: message key ${fmt(mem.seedMessageKeyBytes, 0)} B each (+ key in the keyspace and expires dicts), ` +
      `id list ${fmt(mem.seedListBytesPerMessage, 0)} B/message; avg JSON body ours ${fmt(mem.avgBodyBytes?.ours, 0)} B, seed ${fmt(mem.avgBodyBytes?.seed, 0)} B`,
  );

  const f = /** @type {any} */ (report.fanout);
  if (f.expectedDeliveries !== undefined) {
    lines.push('');
    lines.push(
      `Fan-out: ${f.subscribers} subscribers x ${f.messages} messages: ${f.delivered}/${f.expectedDeliveries} delivered, ` +
        `${f.missing} missing, ${f.duplicates} duplicate, ${f.unexpected} unexpected, ${f.outOfOrder} out of order: ` +
        (f.exactlyOnceInOrder ? 'OK, every subscriber got every message exactly once, in order' : 'FAILED'),
    );
  }

  const d = report.durable;
  lines.push('');
  if (d.skipped) {
    lines.push(`Durable tier: skipped (${d.reason})`);
  } else if (d.drain) {
    lines.push(
      `Durable tier (PostgreSQL, database ${d.database}, dropped): ${d.drain.entries} outbox entries drained in ${fmt(d.drain.seconds)} s ` +
        `= ${fmt(d.drain.entriesPerSecond, 0)} msgs/s; ${d.persistedMessages}/${d.messages} messages in PostgreSQL`,
    );
    lines.push(
      `  Redis killed: message.list (50) first read ${fmt(d.failover.firstReadMs)} ms, then ${d.failover.steadyCalls} reads ` +
        `p50 ${fmt(d.failover.steadyP50Ms)} / p99 ${fmt(d.failover.steadyP99Ms)} ms, ${d.failover.badAnswers} not 200 with 50 items; ` +
        `health "${d.recovery.health}" ${fmt(d.recovery.seconds)} s after Redis restarted`,
    );
  }

  const a = report.ai;
  if (a.generations !== undefined) {
    lines.push('');
    lines.push(
      `AI PM: ${a.delivered}/${a.generations} answers of ${a.tokensPerAnswer} tokens (one every ${a.tokenIntervalMs} ms) in ${fmt(a.wallSeconds)} s; ` +
        `first token in a tab p50 ${fmt(a.firstTokenP50Ms)} ms after the send, ${fmt(a.behindModelP50Ms)} ms (p99 ${fmt(a.behindModelP99Ms)}) behind the model; ` +
        `${fmt(a.cpuMsPerToken, 3)} ms app CPU/token (AI SDK ${fmt(a.sdkCpuMsPerToken, 3)}, Parley ${fmt(a.parleyCpuMsPerToken, 3)}); ${fmt(a.eventsPerSecond, 0)} events/s to the tab; ${fmt(a.logEntriesPerAnswer, 1)} log entries/answer`,
    );
  }

  lines.push('');
  lines.push('Targets');
  const tw = Math.max(...report.targets.map((t) => t.name.length));
  const vw = Math.max(...report.targets.map((t) => `${fmt(t.value)} ${t.unit}`.length));
  const gw = Math.max(...report.targets.map((t) => t.target.length));
  for (const t of report.targets) {
    lines.push(`  ${t.name.padEnd(tw)}  ${`${fmt(t.value)} ${t.unit}`.padStart(vw)}  (target ${t.target.padEnd(gw)})  ${t.met ? 'met' : 'NOT MET'}`);
  }

  lines.push('');
  lines.push('CPU by phase: average cores in use by bench client / next start / redis-server / rest of the machine');
  lines.push('(2 cores in all), and next start CPU time per operation (ms; one process serves at most 1000/that per s)');
  const pw = Math.max(...report.cpu.map((c) => c.phase.length));
  for (const c of report.cpu) {
    const perOp = c.appCpuMsPerOp ? `   next ${fmt(c.appCpuMsPerOp, 3)} ms/${c.opUnit}` : '';
    lines.push(
      `  ${c.phase.padEnd(pw)}  ${String(c.wallSeconds).padStart(6)} s   ` +
        `${fmt(c.benchCpu)} / ${fmt(c.appCpu)} / ${fmt(c.redisCpu)} / ${fmt(c.otherCpu)}${perOp}`,
    );
  }
  lines.push('');
  lines.push(`Measurements took ${formatDuration((result.elapsedSeconds ?? 0) * 1000)} (after the build and app start).`);
  return lines.join('\n');
}

function jsonDocument(/** @type {Record<string, unknown>} */ extra) {
  return JSON.stringify(
    {
      ...extra,
      rows: report.rows.map((r) => ({
        ...r,
        p50: round(r.p50),
        p90: round(r.p90),
        p99: round(r.p99),
        max: round(r.max),
        mean: round(r.mean),
        throughput: r.throughput === null ? null : round(r.throughput, 1),
      })),
      targets: report.targets,
      ratios: report.ratios,
      memory: report.memory,
      fanout: report.fanout,
      durable: report.durable,
      ai: report.ai,
      cpu: report.cpu,
      failures: report.failures,
    },
    null,
    2,
  );
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
  if (shuttingDown && cleanupPromise) await new Promise(() => undefined);
  exitCode = 1;
  console.error(`\nbench: the run failed: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && !(error instanceof HttpError) && error.stack) console.error(error.stack);
  if (appProcess && !appAlive()) {
    console.error(`bench: next start is gone (exit code ${appProcess.exitCode}, signal ${appProcess.signalCode})`);
  }
  if (appLog.length > 0 && !shuttingDown) console.error(`--- app log (tail) ---\n${appLog.slice(-20).join('\n')}`);
  if (report.rows.length > 0) {
    console.error('\nMeasured before the failure:');
    for (const r of report.rows) console.error(`  ${r.name}: n=${r.n} p50=${fmt(r.p50)} p99=${fmt(r.p99)} ms`);
  }
  if (JSON_OUT) process.stdout.write(`${jsonDocument({ ok: false, error: String(error) })}\n`);
  await cleanup().catch(() => undefined);
}
process.exit(exitCode);
