// Search benchmark (issue 12): `message.search` latency over HTTP against a production build.
//   - Redis alone: N messages sent through message.send, then queries answered by the bounded scan.
//   - Durable tier (when PostgreSQL answers at 127.0.0.1:5432): messages bulk-loaded into PostgreSQL
//     (the migration's trigger indexes them exactly as the outbox consumer's upserts would), then
//     queries answered by PostgreSQL full-text search.
// The search phase of `npm run bench` (run below), and runnable alone: `node scripts/bench/search.mjs
// [--redis=10000] [--pg=100000,1000000] [--runs=100]` (needs `next build` first).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { migrate } from '../lib/migrate.mjs';
import { prng } from '../lib/prng.mjs';
import { findFreePort, startRedisServer } from '../lib/redis-server.mjs';
import { repoRoot } from '../lib/run.mjs';
const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const WORDS = (
  'the a we to and of is in for on it that this with be are was not have at from by our team plan ' +
  'release deploy review meeting design api client server bug fix test data user page build merge ' +
  'branch ticket sprint roadmap customer feedback metric dashboard error latency cache queue ' +
  'database index query schema migration rollout staging production monday friday tomorrow today ' +
  'budget date decision notes draft spec owner deadline risk blocker priority estimate'
).split(' ');

/** Queries timed, with what each one exercises. */
const QUERIES = [
  { name: 'rare word (1 in 10,000)', input: { query: 'zanzibar' } },
  { name: 'common word (~10%), newest', input: { query: 'launch' } },
  { name: 'common word, by relevance', input: { query: 'launch', sort: 'relevance' } },
  { name: 'phrase', input: { query: '"launch date"' } },
  { name: 'word -exclusion', input: { query: 'launch -budget' } },
  { name: 'no match', input: { query: 'xylophone' } },
];

function contentFor(i, rand) {
  const n = 8 + Math.floor(rand() * 20);
  const words = [];
  for (let k = 0; k < n; k++) words.push(WORDS[Math.floor(rand() * WORDS.length)]);
  if (i % 10 === 3) words.splice(Math.floor(rand() * words.length), 0, 'launch', rand() < 0.3 ? 'date' : 'party');
  if (i % 10_000 === 7) words.push('zanzibar');
  return words.join(' ');
}


function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p99: at(99), max: s[s.length - 1] };
}

class Client {
  constructor(port) {
    this.base = `http://127.0.0.1:${port}/api/trpc/`;
    this.cookie = '';
  }
  async call(method, proc, input) {
    const url = method === 'GET' ? `${this.base}${proc}?input=${encodeURIComponent(JSON.stringify(input))}` : `${this.base}${proc}`;
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', cookie: this.cookie },
      body: method === 'POST' ? JSON.stringify(input) : undefined,
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${proc}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
    if (setCookie) this.cookie = setCookie.split(';')[0];
    return body.result.data;
  }
}

/**
 * `next start` on a free port against `redisUrl` (`extraEnv` on top; the cluster bench passes
 * REDIS_CLUSTER_NODES there), resolving once /api/health answers 200, with its port, pid and stop().
 */
export async function startApp(redisUrl, extraEnv) {
  const port = await findFreePort();
  const env = { ...process.env, REDIS_URL: redisUrl, PORT: String(port), NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  // Sends and queries back to back measure speed, not the per-user limits (README, "Abuse limits"):
  // 10,000 sends by one user are over the default 6,000 per 10 minutes.
  Object.assign(env, { LIMIT_SEND_PER_10S: '0', LIMIT_SEND_PER_10MIN: '0', LIMIT_SEARCH_PER_MIN: '0' });
  delete env.DATABASE_URL;
  Object.assign(env, extraEnv);
  // The production server, as `npm start` runs it.
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'server.mjs'), '-p', String(port), '-H', '127.0.0.1'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited (${child.exitCode})`);
    const ok = await fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the app did not answer /api/health within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(undefined);
        child.once('exit', () => resolve(undefined));
        child.kill('SIGTERM');
      }),
  };
}

async function signedInProject(port) {
  const api = new Client(port);
  await api.call('POST', 'auth.signUp', { username: `bench_search_${Date.now().toString(36)}`, password: 'bench-password-1' });
  const projectId = (await api.call('POST', 'project.create', { name: 'Bench search' })).id;
  const sessionId = (await api.call('POST', 'session.create', { projectId, title: 'Search' })).id;
  return { api, projectId, sessionId };
}

async function timeQueries(api, projectId, runs, label, progress) {
  const rows = [];
  for (const q of QUERIES) {
    const input = { projectId, limit: 20, ...q.input };
    const first = await api.call('GET', 'message.search', input); // warm-up, and what the page says
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await api.call('GET', 'message.search', input);
      samples.push(performance.now() - t);
    }
    const stats = percentiles(samples);
    const row = {
      name: `${label}: ${q.name}`,
      ...stats,
      samples,
      hits: first.items.length,
      scanned: first.scanned,
      notice: first.notice !== null,
      note: `${first.items.length} hits on the first page${first.scanned !== null ? `, ${first.scanned} messages scanned` : ''}${first.notice ? ', budget notice' : ''}`,
    };
    progress(`  ${row.name}: p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms (${row.hits} hits${first.scanned !== null ? `, ${first.scanned} scanned` : ''})`);
    rows.push(row);
  }
  return rows;
}

/** Redis alone: `count` messages through message.send (16 at a time), then the queries. */
export async function benchSearchRedis({ count = 10_000, runs = 100, progress = console.error } = {}) {
  const redis = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  let app;
  try {
    app = await startApp(redis.url, {});
    const { api, projectId, sessionId } = await signedInProject(app.port);
    const rand = prng(12);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          await api.call('POST', 'message.send', { projectId, sessionId, id: randomUUID(), content: contentFor(i, rand) });
        }
      }),
    );
    progress(`search bench: ${count} messages sent in ${((performance.now() - t0) / 1000).toFixed(1)} s (Redis alone)`);
    return await timeQueries(api, projectId, runs, `Redis scan, ${count.toLocaleString('en-US')} msgs`, progress);
  } finally {
    await app?.stop();
    await redis.destroy();
  }
}

/** Durable tier: one app with DATABASE_URL; `sizes` messages bulk-loaded into PostgreSQL in turn. */
export async function benchSearchPostgres({ sizes = [100_000], runs = 100, progress = console.error } = {}) {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    progress(`search bench: PostgreSQL skipped (${err instanceof Error ? err.message : String(err)})`);
    return [];
  }
  const dbName = `parley_bench_search_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
  const redis = await startRedisServer({ confFile: path.join(repoRoot, 'redis.conf') });
  let app;
  const db = new pg.Client({ connectionString: databaseUrl });
  try {
    await migrate({ databaseUrl });
    app = await startApp(redis.url, { DATABASE_URL: databaseUrl, DATABASE_MIGRATE_ON_START: 'false' });
    const { api, projectId, sessionId } = await signedInProject(app.port);
    await db.connect();
    const rows = [];
    let loaded = 0;
    for (const size of sizes) {
      const t0 = performance.now();
      // Deterministic text from the same word list, generated in PostgreSQL (1e6 rows from Node would
      // spend the time on the wire); every 10th has "launch", 1 in 10,000 "zanzibar".
      for (let from = loaded + 1; from <= size; from += 50_000) {
        const to = Math.min(size, from + 49_999);
        await db.query(
          `INSERT INTO messages (project_id, id, session_id, seq, author_id, author_name, role, content,
                                 created_at, updated_at, status, version)
           SELECT $1::uuid, gen_random_uuid(), $2::uuid, g, 'bench', 'bench', 'user',
                  (SELECT string_agg(($3::text[])[1 + (abs(hashint4(g * 31 + k)::bigint) % array_length($3::text[], 1))], ' ')
                     FROM generate_series(1, 8 + g % 20) k)
                  || CASE WHEN g % 10 = 3 THEN CASE WHEN g % 3 = 0 THEN ' launch date' ELSE ' launch party' END ELSE '' END
                  || CASE WHEN g % 10000 = 7 THEN ' zanzibar' ELSE '' END,
                  now() - (($5::int - g) * interval '1 second'), now(), 'delivered', g
           FROM generate_series($4::int, $5::int) g`,
          [projectId, sessionId, WORDS, from, to],
        );
      }
      await db.query('ANALYZE messages');
      loaded = size;
      progress(`search bench: ${size} messages in PostgreSQL (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      rows.push(...(await timeQueries(api, projectId, runs, `PostgreSQL FTS, ${size.toLocaleString('en-US')} msgs`, progress)));
    }
    return rows;
  } finally {
    await db.end().catch(() => undefined);
    await app?.stop();
    await redis.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

/**
 * The search phase of `npm run bench`: Redis alone at 10,000 messages and the durable tier at 100,000
 * (`sizes` to add 1,000,000, see README), fewer with --quick. Rows carry their samples.
 */
export async function benchSearch({ quick = false, pgSizes, progress = console.error } = {}) {
  const runs = quick ? 30 : 100;
  return [
    ...(await benchSearchRedis({ count: quick ? 2000 : 10_000, runs, progress })),
    ...(await benchSearchPostgres({ sizes: pgSizes ?? (quick ? [20_000] : [100_000]), runs, progress })),
  ];
}

/**
 * The bench phase: each query's rows in the report. The bench's modules are imported here, not at the
 * top, so this file also runs alone with its own arguments.
 * @param {import('./index.mjs').BenchContext} _ctx
 */
export async function run(_ctx) {
  const [{ QUICK, progress }, { addRow }] = await Promise.all([import('./lib/options.mjs'), import('./lib/report.mjs')]);
  for (const row of await benchSearch({ quick: QUICK, progress })) addRow(row.name, row.samples, undefined, row.note);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const runs = Number(arg('runs', '100'));
  const rows = [
    ...(await benchSearchRedis({ count: Number(arg('redis', '10000')), runs })),
    ...(await benchSearchPostgres({ sizes: arg('pg', '100000').split(',').map(Number), runs })),
  ];
  console.log(JSON.stringify(rows.map(({ samples: _s, ...row }) => row), null, 2));
}
