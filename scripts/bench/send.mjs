// message.send over HTTP: latency one at a time, then throughput at concurrency 32.
import { randomUUID } from 'node:crypto';
import { checkLayout } from './lib/layout.mjs';
import { SIZES, TARGETS } from './lib/options.mjs';
import { addRow, addTarget, phase } from './lib/report.mjs';
import { messageContent, now } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const { api, pool, redis, pid, sessions } = ctx;
  // ---- 1. message.send at concurrency 1
  const sendC1 = await phase('message.send, c=1', async () => {
    const samples = [];
    const { warmup, n } = SIZES.sendC1;
    for (let i = 0; i < warmup + n; i++) {
      const id = randomUUID();
      const content = messageContent();
      const t0 = now();
      const msg = await api.mutation('message.send', { projectId: pid, sessionId: sessions.A, id, content });
      const dt = now() - t0;
      if (msg.id !== id || msg.seq !== i + 1) throw new Error(`message.send returned seq ${msg.seq} for send #${i + 1}`);
      if (i >= warmup) samples.push(dt);
    }
    return addRow('message.send HTTP, c=1', samples);
  }, { ops: SIZES.sendC1.warmup + SIZES.sendC1.n, unit: 'send' });
  await checkLayout(redis, pid, sessions.A, SIZES.sendC1.warmup + SIZES.sendC1.n);

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
          const msg = await pool.mutation('message.send', { projectId: pid, sessionId: sessions.B, id, content });
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
  addTarget('send c=1 p50', `<= ${TARGETS.sendP50Ms} ms`, sendC1.p50, 'ms', sendC1.p50 <= TARGETS.sendP50Ms);
  addTarget('send c=1 p99', `<= ${TARGETS.sendP99Ms} ms`, sendC1.p99, 'ms', sendC1.p99 <= TARGETS.sendP99Ms);
  addTarget(
    `send throughput c=${SIZES.sendC32.concurrency}`,
    `>= ${TARGETS.sendsPerSecC32} msgs/s`,
    sendC32.throughput ?? 0,
    'msgs/s',
    (sendC32.throughput ?? 0) >= TARGETS.sendsPerSecC32,
  );
  ctx.results.sendC1 = sendC1;
  ctx.results.sendC32 = sendC32;
}
