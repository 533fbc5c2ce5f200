// Redis memory per stored message: our layout vs seed 000's, for the same messages.
import { setTimeout as sleep } from 'node:timers/promises';
import { bucketKeys, ourKeys, pyIsoformat, SEED_TTL_SECONDS, seedKeys, seedMessageJson, storedMessages } from './lib/layout.mjs';
import { SIZES, TARGETS } from './lib/options.mjs';
import { addTarget, phase, report, round } from './lib/report.mjs';
import { messageContent } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const memory = await phase('Redis memory per message', () => measureMemory({ redis: ctx.redis, api: ctx.api, appendArgs: ctx.appendArgs }));
  report.ratios.memoryOursOverSeed = round(memory.ratio, 3);
  addTarget(
    'memory/message: ours / seed',
    `<= ${TARGETS.memoryRatio}`,
    memory.ratio,
    'x',
    memory.ratio <= TARGETS.memoryRatio,
  );
}

/** INFO memory used_memory (and client buffers, to show they are not what moved). */
async function usedMemory(/** @type {import('ioredis').Redis} */ redis) {
  const info = await redis.info('memory');
  const field = (/** @type {string} */ name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { used: field('used_memory'), clients: field('mem_clients_normal') };
}

/**
 * used_memory delta for M messages in our layout (our append script, straight on Redis, pipelined)
 * and for the same messages in seed 000's layout (its 4 commands per save, pipelined: same data).
 * @param {{ redis: import('ioredis').Redis, api: import('./lib/http-client.mjs').Api, appendArgs: (pid: string, sid: string, content: string) => unknown[] }} opts
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
  const usageOf = async (/** @type {string[]} */ keyList) => {
    let sum = 0;
    for (const key of keyList) sum += await usage(key);
    return sum;
  };
  const bodyBuckets = bucketKeys.messages(pid, sid, total);
  const encodings = new Set();
  for (const key of bodyBuckets) encodings.add(await redis.call('OBJECT', 'ENCODING', key));
  const breakdown = {
    // keys.ts: bodies in buckets of 128 seqs, the id index in 256 buckets (listpacks: see redis.conf)
    messageBuckets: await usageOf(bodyBuckets),
    idIndexBuckets: await usageOf(bucketKeys.messageIds(pid)),
    eventLogStream: await usage(ourKeys.events(pid)),
    recentList: await usage(ourKeys.recent(pid)),
    sessionHash: await usage(ourKeys.session(pid, sid)),
  };
  const eventLogLength = await redis.xlen(ourKeys.events(pid));

  // The seed's layout for the very same messages (ids, content and times read back from ours).
  const messages = await storedMessages(redis, pid, sid, total);
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
    bodyBuckets: bodyBuckets.length,
    bodyBucketEncodings: [...encodings].join(','),
    seedMessageKeyBytes: round(sampleBytes / sampleIds.length, 1),
    seedListBytesPerMessage: round((await usage(seedKeys.list(pid, sid))) / total, 1),
    clientBufferDeltaBytes: { ours: ours1.clients - ours0.clients, seed: seed1.clients - seed0.clients },
    avgBodyBytes: {
      ours: round(messages.reduce((a, m) => a + m.bytes, 0) / total, 1),
      seed: round(
        messages.reduce((a, m) => a + Buffer.byteLength(seedMessageJson({ ...m, projectId: pid, sessionId: sid })), 0) / total,
        1,
      ),
    },
  };
  return { oursPer, seedPer, ratio: oursPer / seedPer };
}
