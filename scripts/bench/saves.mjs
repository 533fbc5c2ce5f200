// Saves straight on Redis: seed 000's 4 sequential commands vs our one Lua script, interleaved.
//
// On this kind of VM a Redis round trip costs ~15 us while the other core is busy and ~80 us when it
// sits idle (waking it is slow), so results drift with whatever else runs. Ours and the seed's are
// therefore measured interleaved, one operation of each in turn, under the same conditions.
import { pyIsoformat, SEED_TTL_SECONDS, seedKeys, seedMessageJson, storedMessages } from './lib/layout.mjs';
import { SIZES } from './lib/options.mjs';
import { addRow, phase, report, round } from './lib/report.mjs';
import { messageContent, now } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const { redis, pid, sessions } = ctx;
  // ---- 3. saves straight on Redis: seed 000's 4 sequential commands vs our one Lua script.
  // Session A (>= 1,000 messages: topped up through our script in --quick) is copied into the seed
  // layout - same ids, content and times - for the page reads below; each seed save is followed by our
  // append of the same content into session C.
  let lastSeqA = SIZES.sendC1.warmup + SIZES.sendC1.n;
  if (lastSeqA < SIZES.listSessionMin) {
    const pipeline = redis.pipeline();
    for (let i = lastSeqA; i < SIZES.listSessionMin; i++) pipeline.evalsha(...ctx.appendArgs(pid, sessions.A, messageContent()));
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    lastSeqA = SIZES.listSessionMin;
  }
  const messagesA = await storedMessages(redis, pid, sessions.A, lastSeqA);
  const seedListKey = seedKeys.list(pid, sessions.A);
  const { seedWrite, luaAppend } = await phase('saves straight on Redis: seed vs ours, interleaved', async () => {
    const seedSamples = [];
    const luaSamples = [];
    const seedSessionKey = seedKeys.session(pid, sessions.A);
    for (let i = 0; i < messagesA.length; i++) {
      const m = messagesA[i];
      const json = seedMessageJson({ ...m, projectId: pid, sessionId: sessions.A });
      const updatedAt = pyIsoformat(m.createdAt);
      let t0 = now();
      // store_chat_message as written: four commands, one after another.
      await redis.setex(seedKeys.message(pid, sessions.A, m.id), SEED_TTL_SECONDS, json);
      await redis.lpush(seedListKey, m.id);
      await redis.hset(seedSessionKey, 'last_message_at', updatedAt);
      await redis.hincrby(seedSessionKey, 'message_count', 1);
      const dtSeed = now() - t0;
      const args = ctx.appendArgs(pid, sessions.C, m.content);
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
  // Session A, now also in the seed's layout, is what the page phase reads.
  ctx.results.pages = { lastSeqA, seedListKey };
  const sendC1 = ctx.results.sendC1;
  report.ratios.writeSeedRawOverOurLuaP50 = round(seedWrite.p50 / luaAppend.p50, 2);
  if (sendC1) report.ratios.writeSeedRawOverOurHttpP50 = round(seedWrite.p50 / sendC1.p50, 2);
}
