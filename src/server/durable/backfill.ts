import 'server-only';
import { errorFields, logger } from '~/server/log';
import { idInKey, keyPattern, keys } from '~/server/redis/keys';
import { scanKeys } from '~/server/redis/scan';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';

const log = logger('backfill');

/** Set once a backfill completed on this Redis dataset (an empty Redis has none, and backfills). */
const DONE_KEY = 'parley:outbox:backfilled';
/** Held while one process backfills (refreshed), so several starting processes do it once. */
const LOCK_KEY = 'parley:outbox:backfill:lock';
const LOCK_TTL_SECONDS = 60;
const MESSAGE_CHUNK = 500;
/** Backpressure: wait while the outbox holds more than this (the consumer drains it meanwhile). */
const MAX_BACKLOG = 50_000;

export interface BackfillResult {
  users: number;
  logins: number;
  projects: number;
  sessions: number;
  messages: number;
}

/**
 * Switching the durable tier on for a Redis that already holds data: appends the current state of
 * every account, login session, project, member, session and message to the outbox, so the consumer
 * copies what existed before the tier was on (later changes arrive through the outbox anyway). Each
 * record is read and appended in one script, so a change racing with the backfill is never
 * overwritten by an older copy. Runs once per Redis dataset (marker key), one process at a time.
 * Returns null when it had nothing to do (done before, or another process is on it).
 */
export async function backfillOutbox(redis: ScriptedRedis, opts: { force?: boolean } = {}): Promise<BackfillResult | null> {
  if (!opts.force && (await redis.exists(DONE_KEY)) === 1) return null;
  if ((await redis.set(LOCK_KEY, String(process.pid), 'EX', LOCK_TTL_SECONDS, 'NX')) !== 'OK') return null;
  const refresh = setInterval(() => {
    void redis.expire(LOCK_KEY, LOCK_TTL_SECONDS).catch(() => undefined);
  }, (LOCK_TTL_SECONDS * 1000) / 3);
  refresh.unref();
  const result: BackfillResult = { users: 0, logins: 0, projects: 0, sessions: 0, messages: 0 };
  try {
    log.info('backfilling the outbox from the existing Redis data');
    for await (const key of scanKeys(redis, keyPattern(keys.user), 'hash')) {
      if (await scripts.backfillUser.run(redis, { key, outbox: keys.outbox })) result.users++;
    }
    for await (const key of scanKeys(redis, keyPattern(keys.loginSession), 'string')) {
      const tokenHash = idInKey(keys.loginSession, key);
      if (tokenHash && (await scripts.backfillLogin.run(redis, { key, tokenHash, outbox: keys.outbox }))) result.logins++;
    }
    for await (const key of scanKeys(redis, keyPattern(keys.project), 'hash')) {
      const pid = idInKey(keys.project, key);
      if (!pid) continue;
      await waitForBacklog(redis);
      const sessionIds = await scripts.backfillProject.run(redis, { projectId: pid, outbox: keys.outbox });
      result.projects++;
      for (const sid of sessionIds) {
        result.sessions++;
        const lastSeq = Number((await redis.hget(keys.session(pid, sid), 'lastSeq')) ?? 0);
        for (let from = 1; from <= lastSeq; from += MESSAGE_CHUNK) {
          await waitForBacklog(redis);
          result.messages += await scripts.backfillMessages.run(redis, {
            projectId: pid,
            sessionId: sid,
            from,
            to: Math.min(lastSeq, from + MESSAGE_CHUNK - 1),
            outbox: keys.outbox,
          });
        }
      }
    }
    await redis.set(DONE_KEY, new Date().toISOString());
    log.info(result, 'outbox backfill done');
    return result;
  } catch (err) {
    log.error({ ...errorFields(err) }, 'outbox backfill failed; the next start retries it');
    throw err;
  } finally {
    clearInterval(refresh);
    await redis.del(LOCK_KEY).catch(() => undefined);
  }
}

async function waitForBacklog(redis: ScriptedRedis) {
  while ((await redis.xlen(keys.outbox)) > MAX_BACKLOG) await new Promise((r) => setTimeout(r, 200));
}
