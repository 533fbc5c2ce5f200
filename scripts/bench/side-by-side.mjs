// Side by side: app CPU per message.send for two production servers on one Redis, sends interleaved so
// both see the same machine (on a shared machine the full bench's rows move by a quarter from run to run;
// this comparison does not). Each checkout must have a current `next build`.
//
//   node --import tsx scripts/bench/side-by-side.mjs <checkoutA> "<node flags A>" <checkoutB> "<node flags B>" [rounds=6] [sends=1500]
//
// e.g. an older commit against this one:  git worktree add /tmp/old <commit> && (cd /tmp/old && npm install && npx next build)
//   node --import tsx scripts/bench/side-by-side.mjs /tmp/old "" . "--max-semi-space-size=64"
// Per round and server: `sends` message.send calls at concurrency 32 (app CPU from /proc/<pid>/stat), then
// 300 sends one at a time (latency); the order of the two servers flips every round. Prints medians.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { findFreePort, startRedisServer } from '../lib/redis-server.mjs';
import { Api } from './lib/http-client.mjs';

const [rootA, flagsA = '', rootB, flagsB = '', roundsArg, sendsArg] = process.argv.slice(2);
if (!rootA || !rootB) {
  console.error('Usage: node --import tsx scripts/bench/side-by-side.mjs <checkoutA> "<flags A>" <checkoutB> "<flags B>" [rounds] [sends]');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 6);
const N = Number(sendsArg ?? 1500);
const CONCURRENCY = 32;
const USER_HZ = 100;
const content = `${'y'.repeat(120)} hello world, a typical message of moderate length`;

const redis = await startRedisServer({});
/** @param {number} pid CPU time (ms) the process has used so far. */
const cpuOf = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
};
const median = (/** @type {number[]} */ a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;

/** @param {string} root @param {string} flags */
async function startServer(root, flags) {
  const port = await findFreePort();
  const env = { ...process.env, REDIS_URL: redis.url, PORT: String(port), NODE_ENV: 'production', LIMIT_SEND_PER_10S: '0', LIMIT_SEND_PER_10MIN: '0' };
  delete env.DATABASE_URL;
  const args = [...flags.split(' ').filter(Boolean), path.join(path.resolve(root), 'scripts', 'server.mjs'), '-p', String(port), '-H', '127.0.0.1'];
  const child = spawn(process.execPath, args, { cwd: path.resolve(root), env, stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`${root}: the server did not start`);
    await sleep(200);
  }
  const api = new Api(port, CONCURRENCY);
  const signUp = await api.call('POST', 'auth.signUp', { username: `sbs_${randomUUID().slice(0, 8)}`, password: 'bench-password-1' });
  api.cookie = (signUp.headers['set-cookie'] ?? []).find((c) => c.startsWith('parley_session='))?.split(';')[0] ?? '';
  const projectId = /** @type {string} */ ((await api.mutation('project.create', { name: 'side by side' })).id);
  const sessionId = /** @type {string} */ ((await api.mutation('session.create', { projectId, title: 's' })).id);
  const send = () => api.mutation('message.send', { projectId, sessionId, id: randomUUID(), content });
  return { child, api, send, label: `${root} ${flags}`.trim(), cpu: /** @type {number[]} */ ([]), rate: /** @type {number[]} */ ([]), lone: /** @type {number[]} */ ([]) };
}

/** @param {Awaited<ReturnType<typeof startServer>>} s @param {number} n */
async function burst(s, n) {
  let next = 0;
  const t0 = performance.now();
  const c0 = cpuOf(/** @type {number} */ (s.child.pid));
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        await s.send();
      }
    }),
  );
  return { cpuMs: cpuOf(/** @type {number} */ (s.child.pid)) - c0, ms: performance.now() - t0 };
}

const servers = [await startServer(rootA, flagsA), await startServer(rootB, flagsB)];
try {
  for (const s of servers) await burst(s, N); // warm-up (JIT)
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...servers].reverse() : servers) {
      const { cpuMs, ms } = await burst(s, N);
      s.cpu.push(cpuMs / N);
      s.rate.push((N / ms) * 1000);
      for (let i = 0; i < 300; i++) {
        const t = performance.now();
        await s.send();
        s.lone.push(performance.now() - t);
      }
    }
  }
  for (const s of servers) {
    console.log(
      `${s.label}: app CPU per send (c=${CONCURRENCY}) median ${median(s.cpu).toFixed(3)} ms [${s.cpu.map((c) => c.toFixed(3)).join(' ')}], ` +
        `sends/s median ${median(s.rate).toFixed(0)}, one at a time p50 ${median(s.lone).toFixed(2)} ms`,
    );
  }
} finally {
  for (const s of servers) {
    s.api.close();
    s.child.kill('SIGTERM');
  }
  await redis.destroy();
}
