// A 50-message page at a random position of session A, four ways in turn: message.list over HTTP,
// our list script and a bare HMGET straight on Redis, and seed 000's LRANGE + 50 GETs.
import { keys, messageBucketOf } from '../../src/server/redis/keys.ts';
import { scripts } from '../../src/server/redis/scripts.ts';
import { ourScript, seedKeys } from './lib/layout.mjs';
import { PAGE, SIZES, TARGETS } from './lib/options.mjs';
import { addRow, addTarget, phase, report, round } from './lib/report.mjs';
import { now, randInt } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const { api, redis, pid, sessions } = ctx;
  const { lastSeqA, seedListKey } = ctx.results.pages;
  const listSha = /** @type {string} */ (await redis.script('LOAD', ourScript('list-messages-2')));
  /** The app's own keys and arguments of a page (its typed wrapper). */
  const pageCall = (/** @type {number} */ cursor) => scripts.listMessages.call({ projectId: pid, sessionId: sessions.A, cursor, limit: PAGE });
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
      const page = await api.query('message.list', { projectId: pid, sessionId: sessions.A, limit: PAGE, cursor });
      const dtHttp = now() - t0;
      if (page.items.length !== PAGE || page.items[0].seq !== cursor - PAGE || page.items[PAGE - 1].seq !== cursor - 1) {
        throw new Error(`message.list cursor ${cursor}: unexpected page (${page.items.length} items)`);
      }

      t0 = now();
      const call = pageCall(cursor);
      const reply = /** @type {unknown[]} */ (await redis.evalsha(listSha, call.keys.length, ...call.keys, ...call.args));
      const dtScript = now() - t0;
      if (reply.length !== PAGE + 1 || reply.slice(1).some((b) => b === null)) throw new Error('list-messages-2: short page');

      const fields = Array.from({ length: PAGE }, (_, k) => cursor - 1 - k);
      t0 = now();
      // One HMGET per body bucket the page spans (one or two), pipelined: one round trip.
      const pipeline = redis.pipeline();
      const firstBucket = messageBucketOf(fields[0]);
      const split = fields.findIndex((seq) => messageBucketOf(seq) !== firstBucket);
      for (const part of split < 0 ? [fields] : [fields.slice(0, split), fields.slice(split)]) {
        pipeline.hmget(keys.messageBucket(pid, sessions.A, messageBucketOf(part[0])), ...part);
      }
      const bodies = ((await pipeline.exec()) ?? []).flatMap(([err, part]) => {
        if (err) throw err;
        return /** @type {(string | null)[]} */ (part);
      });
      const dtHmget = now() - t0;
      if (bodies.some((b) => b === null)) throw new Error('HMGET: short page');

      // get_session_messages as written: LRANGE, then one GET per id, one after another. The seed's
      // list is newest first (LPUSH), so the same 50 messages sit at offset lastSeq - (cursor - 1).
      const start = lastSeqA - (cursor - 1);
      t0 = now();
      const ids = await redis.lrange(seedListKey, start, start + PAGE - 1);
      const seedBodies = [];
      for (const id of ids) seedBodies.push(await redis.get(seedKeys.message(pid, sessions.A, id)));
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
      ourPageScript: addRow('our page: list script (Redis)', script, undefined, 'EVALSHA list-messages-2, 1 round trip'),
      ourPageHmget: addRow('our page: HMGET 50 (Redis)', hmget, undefined, '1 round trip (1-2 body buckets, pipelined)'),
      seedPage: addRow('seed page: LRANGE + 50 GET (Redis)', seed, undefined, '51 sequential round trips'),
    };
  }, { ops: SIZES.pages.warmup + SIZES.pages.n, unit: 'page' });
  const pageSpeedupHttp = seedPage.p50 / listHttp.p50;
  Object.assign(report.ratios, {
    pageSeedRawOverOurHttpP50: round(pageSpeedupHttp, 2),
    pageSeedRawOverOurHttpP99: round(seedPage.p99 / listHttp.p99, 2),
    pageSeedRawOverOurRawP50: round(seedPage.p50 / ourPageScript.p50, 2),
    pageSeedRawOverOurRawP99: round(seedPage.p99 / ourPageScript.p99, 2),
  });
  addTarget(
    'page: seed (Redis) p50 / ours (HTTP) p50',
    `>= ${TARGETS.pageSpeedup}x`,
    pageSpeedupHttp,
    'x',
    pageSpeedupHttp >= TARGETS.pageSpeedup,
  );
}
