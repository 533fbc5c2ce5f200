// Durable tier (PostgreSQL): outbox drain rate and failover reads. Stops the main app.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer } from '../lib/redis-server.mjs';
import { repoRoot } from '../lib/run.mjs';
import { Api } from './lib/http-client.mjs';
import { PAGE, SIZES, progress } from './lib/options.mjs';
import { closers, pgConnectionFailed, startApp, state, stopApp } from './lib/processes.mjs';
import { addRow, phase, report, round, summarize } from './lib/report.mjs';
import { concurrently, messageContent, now } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  await durableTier({ Redis: ctx.Redis });
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
    state.benchDatabase = { name: dbName, adminUrl: PG_ADMIN_URL };
  } finally {
    await admin.end().catch(() => undefined);
  }
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
  progress(`bench: durable tier: database ${dbName}`);

  const { messages: total, concurrency, failoverSeconds } = SIZES.durable;
  await stopApp();
  for (const close of closers.splice(0)) close();
  state.durableRedis = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  const redisHandle = state.durableRedis;
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
    const { samples, wallMs } = await concurrently(total, concurrency, () =>
      pool.mutation('message.send', { projectId, sessionId, id: randomUUID(), content: messageContent() }),
    );
    addRow(`message.send HTTP, c=${concurrency}, durable tier on`, samples, wallMs, 'each send also appends to the outbox');
  }, { ops: total, unit: 'send' });
  // The outbox is partitioned by hash slot (src/server/redis/outbox-partitions.ts): the partitions the
  // sends made are found once here, then their lengths summed.
  const partitions = [];
  for (let cursor = '0'; ; ) {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'parley:outbox:{*}', 'TYPE', 'stream', 'COUNT', 1000);
    partitions.push(...found.filter((/** @type {string} */ k) => k.endsWith('}')));
    cursor = next;
    if (cursor === '0') break;
  }
  const outboxEntries = async () => (await Promise.all(partitions.map((k) => redis.xlen(k)))).reduce((a, b) => a + b, 0);
  const backlog = await outboxEntries();
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
        const entries = await outboxEntries();
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
