import 'server-only';
import { toAppError } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import { EVENT_ID_START } from '~/shared/event-id';
import type { Redis } from 'ioredis';
import type { StreamEntry } from './codec';

/**
 * Read access to a project's event log (`project:{p}:events`, a Redis Stream). Writes happen only
 * inside the ChatStore's scripts, together with the change they announce.
 */

async function run<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}

/**
 * Entries strictly after `afterId`, oldest first, at most `count`, message events with their bodies -
 * or `null` when `afterId` itself is no longer in the log: it was trimmed away (MAXLEN), or the log was
 * reset (Redis restarted without its latest writes and may since have reused the ids' time range).
 * Either way a reader positioned there cannot be caught up and must resync. One round trip.
 */
export async function readEventsAfter(
  redis: ScriptedRedis,
  projectId: string,
  afterId: string,
  count: number,
  untilId = '+',
): Promise<StreamEntry[] | null> {
  return run(() => scripts.readEvents.run(redis, { projectId, after: afterId, until: untilId, count }));
}

/** The id of the newest entry, or 0-0 for an empty log. */
export async function headEventId(redis: Redis, projectId: string): Promise<string> {
  const [newest] = (await run(() =>
    redis.xrevrange(keys.events(projectId), '+', '-', 'COUNT', 1),
  )) as StreamEntry[];
  return newest?.[0] ?? EVENT_ID_START;
}
