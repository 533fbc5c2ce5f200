// Scale-out benchmark (issue 13): sends/s and fan-out latency with 1 and 2 app instances (scripts/server.mjs)
// on a standalone redis-server and on a 3-master Redis Cluster (3 masters + 3 replicas, every write
// waiting for its replica: REDIS_WAIT_REPLICAS=1), side by side in one run.
//
// Each setup: one user, PROJECTS projects (one session each) spread over the masters, one SSE
// subscriber per project on EVERY instance, then CONCURRENCY senders in a closed loop for a fixed time,
// round-robin over the instances and projects. Reported per setup: acknowledged sends/s, send latency
// p50/p99, and fan-out latency p50/p99 (from the start of a send to its message.created in a
// subscriber, over every subscriber), plus the CPU the app and Redis processes used. A subscriber that
// misses or repeats a message fails the run.
//
// Used by scripts/bench/index.mjs (`npm run bench -- --cluster`, needs a build) and runnable alone after
// `next build`: `node scripts/bench/cluster.mjs [--quick]`.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from './search.mjs';
import { startRedisCluster, startRedisServer } from '../lib/redis-server.mjs';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** @param {number[]} samples */
function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return { n: s.length, p50: at(50), p99: at(99) };
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
function cpuSeconds(/** @type {number} */ pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

/** Every descendant pid of `root` (next start runs the server in a child process). */
function treePids(/** @type {number} */ root) {
  /** @type {number[]} */
  const out = [root];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      if (out.includes(ppid)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

class Client {
  constructor(/** @type {number} */ port) {
    this.base = `http://127.0.0.1:${port}`;
    this.cookie = '';
  }
  /** @param {string} proc @param {unknown} input */
  async mutation(proc, input) {
    const res = await fetch(`${this.base}/api/trpc/${proc}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: this.cookie },
      body: JSON.stringify(input),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${proc}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
    if (setCookie) this.cookie = setCookie.split(';')[0] ?? '';
    return body.result.data;
  }
}

/**
 * One SSE stream of events.subscribe; calls onCreated(message id) for each message.created.
 * @param {string} base @param {string} cookie @param {string} projectId
 * @param {(id: string) => void} onCreated
 */
async function subscribe(base, cookie, projectId, onCreated) {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/trpc/events.subscribe?input=${encodeURIComponent(JSON.stringify({ projectId }))}`, {
    headers: { cookie, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (!res.ok || !res.body) throw new Error(`events.subscribe: HTTP ${res.status}`);
  /** @type {() => void} */
  let markReady = () => undefined;
  const ready = new Promise((resolve) => (markReady = () => resolve(undefined)));
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of /** @type {AsyncIterable<Uint8Array>} */ (res.body)) {
        buffered += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const lines = block.split('\n');
          // Named events are the stream's own (connected, ping, errors); tracked events have none.
          if (lines.some((l) => l.startsWith('event: '))) continue;
          const data = lines.find((l) => l.startsWith('data: '));
          if (!data) continue;
          const event = JSON.parse(data.slice(6));
          if (event.type === 'ready') markReady();
          if (event.type === 'message.created') onCreated(event.message.id);
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  return { ready, close: async () => (abort.abort(), await done) };
}

/** Speed, not the abuse limits: one user sends flat out and holds a stream per project per instance. */
const APP_ENV = { LIMIT_SEND_PER_10S: '0', LIMIT_SEND_PER_10MIN: '0', SSE_MAX_PER_USER: '10000' };

/**
 * Measures one setup: `instances` apps on `redisUrl`, or on the cluster `redisEnv` names.
 * @param {{ label: string, instances: number, redisUrl: string, redisEnv: Record<string, string>, redisPids: number[],
 *   projects: number, concurrency: number, seconds: number, progress: (line: string) => void }} o
 */
async function measure(o) {
  const apps = [];
  for (let i = 0; i < o.instances; i++) apps.push(await startApp(o.redisUrl, { ...APP_ENV, ...o.redisEnv }));
  /** @type {Array<{ close: () => Promise<void> }>} */
  const subs = [];
  try {
    const clients = apps.map((a) => new Client(a.port));
    const first = /** @type {Client} */ (clients[0]);
    await first.mutation('auth.signUp', { username: `bench_cl_${randomUUID().slice(0, 8)}`, password: 'bench-password-1' });
    for (const c of clients) c.cookie = first.cookie;
    /** @type {Array<{ projectId: string, sessionId: string }>} */
    const refs = [];
    for (let i = 0; i < o.projects; i++) {
      const projectId = (await first.mutation('project.create', { name: `Scale ${i}` })).id;
      const sessionId = (await first.mutation('session.create', { projectId, title: 'Load' })).id;
      refs.push({ projectId, sessionId });
    }
    /** message id -> send start (ms) */
    const sentAt = new Map();
    /** message id -> deliveries seen */
    const seen = new Map();
    /** @type {number[]} */
    const fanout = [];
    for (const ref of refs) {
      for (const c of clients) {
        subs.push(
          await subscribe(c.base, c.cookie, ref.projectId, (id) => {
            const at = sentAt.get(id);
            if (at !== undefined) fanout.push(performance.now() - at);
            seen.set(id, (seen.get(id) ?? 0) + 1);
          }),
        );
      }
    }
    await Promise.all(subs.map((s) => /** @type {any} */ (s).ready));

    const cpuPids = apps.flatMap((a) => treePids(a.pid));
    const cpuBefore = { app: cpuPids.reduce((n, p) => n + cpuSeconds(p), 0), redis: o.redisPids.reduce((n, p) => n + cpuSeconds(p), 0) };
    /** @type {number[]} */
    const sendMs = [];
    let next = 0;
    const stopAt = performance.now() + o.seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (performance.now() < stopAt) {
          const k = next++;
          const client = /** @type {Client} */ (clients[k % clients.length]);
          const ref = /** @type {{ projectId: string, sessionId: string }} */ (refs[Math.floor(k / clients.length) % refs.length]);
          const id = randomUUID();
          const t = performance.now();
          sentAt.set(id, t);
          await client.mutation('message.send', { ...ref, id, content: `load ${k}` });
          sendMs.push(performance.now() - t);
        }
      }),
    );
    const wall = (performance.now() - started) / 1000;
    const expected = sentAt.size * clients.length;
    const deadline = Date.now() + 30_000;
    while ([...seen.values()].reduce((n, v) => n + v, 0) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpu = {
      app: cpuPids.reduce((n, p) => n + cpuSeconds(p), 0) - cpuBefore.app,
      redis: o.redisPids.reduce((n, p) => n + cpuSeconds(p), 0) - cpuBefore.redis,
    };
    const missing = [...sentAt.keys()].filter((id) => (seen.get(id) ?? 0) < clients.length).length;
    const repeated = [...seen.values()].filter((n) => n > clients.length).length;
    if (missing || repeated) throw new Error(`${o.label}: ${missing} messages not delivered to every subscriber, ${repeated} delivered twice`);
    const send = percentiles(sendMs);
    const fan = percentiles(fanout);
    const row = {
      setup: o.label,
      instances: o.instances,
      sendsPerSec: Math.round(sendMs.length / wall),
      sendP50Ms: round(send.p50),
      sendP99Ms: round(send.p99),
      fanoutP50Ms: round(fan.p50),
      fanoutP99Ms: round(fan.p99),
      deliveries: fanout.length,
      appCores: round(cpu.app / wall, 2),
      redisCores: round(cpu.redis / wall, 2),
    };
    o.progress(`bench cluster: ${JSON.stringify(row)}`);
    return row;
  } finally {
    await Promise.all(subs.map((s) => s.close()));
    await Promise.all(apps.map((a) => a.stop()));
  }
}

const round = (/** @type {number} */ x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The redis-server pids listening on these ports (for their CPU). */
function pidsOf(/** @type {Array<{ pid: number }>} */ handles) {
  return handles.map((h) => h.pid);
}

/**
 * Runs the four setups (standalone x1, x2; cluster x1, x2) and returns their rows, the scaling ratios
 * (2 instances / 1) and what limits them here.
 * @param {{ quick?: boolean, progress?: (line: string) => void }} [options]
 */
export async function benchCluster({ quick = false, progress = (line) => console.error(line) } = {}) {
  const sizes = { projects: 12, concurrency: 32, seconds: quick ? 5 : 15 };
  const standalone = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  const cluster = await startRedisCluster();
  try {
    const rows = [];
    for (const instances of [1, 2]) {
      rows.push(
        await measure({ label: 'standalone', instances, redisUrl: standalone.url, redisEnv: {}, redisPids: [standalone.pid], ...sizes, progress }),
      );
    }
    for (const instances of [1, 2]) {
      rows.push(
        await measure({
          label: 'cluster 3x(1+1)',
          instances,
          // REDIS_URL is not used once REDIS_CLUSTER_NODES is set.
          redisUrl: standalone.url,
          redisEnv: { REDIS_CLUSTER_NODES: cluster.nodesList },
          redisPids: pidsOf(cluster.nodes),
          ...sizes,
          progress,
        }),
      );
    }
    const ratio = (/** @type {string} */ label) => {
      const [one, two] = rows.filter((r) => r.setup === label);
      return one && two ? round(two.sendsPerSec / one.sendsPerSec, 2) : null;
    };
    return {
      cpus: os.cpus().length,
      sizes,
      rows,
      scaling: { standalone: ratio('standalone'), cluster: ratio('cluster 3x(1+1)') },
      limit:
        `${os.cpus().length} cores for everything: the load generator, the app instances and every redis-server share them, ` +
        'so a second instance (or a second master) adds no core; the ratio shows the cost of the extra hops, not the gain of real machines.',
    };
  } finally {
    await cluster.destroy();
    await standalone.destroy();
  }
}

/** Prints the rows as a table. @param {Awaited<ReturnType<typeof benchCluster>>} result */
export function printClusterTable(result) {
  const header = ['setup', 'instances', 'sends/s', 'send p50 ms', 'send p99 ms', 'fan-out p50 ms', 'fan-out p99 ms', 'app cores', 'redis cores'];
  const lines = result.rows.map((r) => [r.setup, r.instances, r.sendsPerSec, r.sendP50Ms, r.sendP99Ms, r.fanoutP50Ms, r.fanoutP99Ms, r.appCores, r.redisCores].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]?.length ?? 0)));
  const fmt = (/** @type {string[]} */ cells) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  console.log(`\nScale-out (${result.sizes.projects} projects, ${result.sizes.concurrency} senders, ${result.sizes.seconds} s per setup, a subscriber per project on every instance)`);
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log(`scaling 2 instances / 1: standalone x${result.scaling.standalone}, cluster x${result.scaling.cluster}`);
  console.log(`limit: ${result.limit}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchCluster({ quick: process.argv.includes('--quick') });
  printClusterTable(result);
  process.exit(0);
}
