import 'server-only';
import { toAppError } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import type { Redis } from 'ioredis';
import type { StreamEntry } from './codec';

/**
 * Read access to a project's event log (`project:{p}:events`, a Redis Stream). Writes happen only
 * inside the ChatStore's scripts, together with the change they announce.
 */

/** Stream ids are `<ms>-<n>`; compare numerically (string order breaks at digit-count changes). */
export function compareEventIds(a: string, b: string): number {
  const [am = 0n, an = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bn = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (an !== bn) return an < bn ? -1 : 1;
  return 0;
}

export const LOG_START = '0-0';

async function run<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}

/** Entries strictly after `afterId`, oldest first, at most `count`. */
export async function readEventsAfter(
  redis: Redis,
  projectId: string,
  afterId: string,
  count: number,
  untilId = '+',
): Promise<StreamEntry[]> {
  return run(() => redis.xrange(keys.events(projectId), `(${afterId}`, untilId, 'COUNT', count));
}

/** The id of the newest entry, or 0-0 for an empty log. */
export async function headEventId(redis: Redis, projectId: string): Promise<string> {
  const [newest] = (await run(() =>
    redis.xrevrange(keys.events(projectId), '+', '-', 'COUNT', 1),
  )) as StreamEntry[];
  return newest?.[0] ?? LOG_START;
}

/**
 * Whether a reader that last saw `lastEventId` can no longer be caught up from the log: entries after
 * it were trimmed away (MAXLEN), or the log is behind it (Redis lost data and restarted), so the ids it
 * holds mean nothing here. Either way the reader must refetch (a `resync`).
 */
export async function isBeyondCatchUp(
  redis: Redis,
  projectId: string,
  lastEventId: string,
): Promise<boolean> {
  let info: unknown[];
  try {
    info = (await redis.call('XINFO', 'STREAM', keys.events(projectId))) as unknown[];
  } catch (err) {
    // No log at all: only a reader that saw nothing (0-0) is still in step.
    if (err instanceof Error && err.message.includes('no such key')) {
      return compareEventIds(lastEventId, LOG_START) > 0;
    }
    throw toAppError(err);
  }
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
  const lastGenerated = (fields.get('last-generated-id') as string | undefined) ?? LOG_START;
  if (compareEventIds(lastEventId, lastGenerated) > 0) return true;
  // Trimmed entries all precede the first entry kept. Redis 7.0's max-deleted-entry-id ignores MAXLEN
  // trimming, so we reason from counts instead: if anything was ever trimmed and the reader stands
  // before the first kept entry, something it has not seen may be gone. (At worst a needless resync,
  // never a silent gap.)
  const trimmed = Number(fields.get('entries-added') ?? 0) - Number(fields.get('length') ?? 0);
  const first = fields.get('first-entry') as StreamEntry | null | undefined;
  if (!first) return trimmed > 0 && compareEventIds(lastEventId, lastGenerated) < 0;
  return trimmed > 0 && compareEventIds(lastEventId, first[0]) < 0;
}
