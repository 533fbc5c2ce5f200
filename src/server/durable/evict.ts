import 'server-only';
import { errorFields, logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import { idInKey, keyPattern, keys, messageBucketOf } from '~/server/redis/keys';
import { deadLettersOf, projectOutbox } from '~/server/redis/outbox-partitions';
import { scanKeys } from '~/server/redis/scan';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';

const log = logger('evict');

/**
 * The most outbox (and dead-letter) entries the eviction script scans for a session's pending
 * changes. A longer backlog means the consumer lags: no session is evicted until it has caught up.
 */
const MAX_STREAM_SCAN = 500;

/**
 * Idle eviction, the seed's "TTL cache" done safely (durable tier only, SESSION_IDLE_EVICT_SECONDS):
 * the messages of a session nobody has read or written for `idleSeconds` (Redis's own idle clock on
 * its messages key, so reads cost nothing extra), and whose every change is persisted, leave Redis.
 * The session's record stays, marked `evicted`, in the project's session index: listing sessions
 * (titles, counters) never needs PostgreSQL. The first message read or write of it brings the
 * messages back from PostgreSQL (read-through) and clears the mark. The project record, its members,
 * the message id index and the recent list stay too, so the project is still listed and idempotent
 * retries still find their message.
 *
 * Candidates come from each project's session index (last message or creation before the cutoff);
 * EVICT_SESSION decides atomically (no change since the cutoff, nothing of it in the outbox or the
 * dead letters). Returns how many sessions' messages it evicted.
 */
export async function evictIdleSessions(redis: ScriptedRedis, idleSeconds: number): Promise<number> {
  const cutoffMs = Date.now() - idleSeconds * 1000;
  const cutoffIso = new Date(cutoffMs).toISOString();
  let evicted = 0;
  // The script checks the session's partition; entries an upgrade left in the single legacy outbox are
  // not in it, so nothing is evicted until the consumer drained that (no write appends there any more).
  if ((await redis.xlen(keys.outboxLegacy)) > 0) return 0;
  for await (const indexKey of scanKeys(redis, keyPattern(keys.sessions), 'zset')) {
    const pid = idInKey(keys.sessions, indexKey);
    if (!pid) continue;
    const candidates = await redis.zrangebyscore(indexKey, '-inf', cutoffMs);
    for (const sid of candidates) {
      // No bodies (evicted already, or no message yet): nothing worth evicting.
      // The newest bucket: every write and the newest page touch it (or the pre-bucket layout's one hash).
      const lastSeq = Number((await redis.hget(keys.session(pid, sid), 'lastSeq')) ?? 0);
      const idle =
        lastSeq > 0
          ? ((await redis.object('IDLETIME', keys.messageBucket(pid, sid, messageBucketOf(lastSeq)))) ??
            (await redis.object('IDLETIME', keys.messages(pid, sid))))
          : null;
      if (idle === null || Number(idle) < idleSeconds) continue;
      const outbox = projectOutbox(pid);
      const outcome = await scripts.evictSession.run(redis, {
        projectId: pid,
        sessionId: sid,
        cutoff: cutoffIso,
        maxScan: MAX_STREAM_SCAN,
        outbox,
        deadLetters: deadLettersOf(outbox),
      });
      if (outcome === 'evicted') evicted++;
      if (outcome === 'backlog') {
        log.info({ evicted }, 'outbox or dead letters too long to check: idle eviction waits for the consumer');
        return done(evicted);
      }
    }
  }
  return done(evicted);
}

function done(evicted: number): number {
  if (evicted > 0) {
    metrics().evictions.inc(evicted);
    log.info({ evicted }, 'idle sessions\' messages evicted from Redis (read-through brings them back)');
  }
  return evicted;
}

/** Logs an eviction pass that failed (it is retried on the next tick). */
export function evictionFailed(err: unknown): void {
  log.warn({ ...errorFields(err) }, 'idle eviction pass failed; will retry');
}
