/**
 * Event ids: the ids Redis gives stream entries, `<ms>-<n>` (milliseconds, then a counter within that
 * millisecond), each part an unsigned 64-bit integer. The project event log, the outbox and the AI job
 * streams all use them. The one place that reads them, for the server, the browser and the tests.
 *
 * They must be compared as numbers: as strings, `999-0` sorts after `1000-0`. BigInt, because a part
 * may exceed 2^53 (an id a client sends back is only checked for shape and range, see streamIdSchema).
 */

/** The first possible id: "before everything" for XRANGE/XREAD and an empty log's head. */
export const EVENT_ID_START = '0-0';

const UINT64_MAX = 18446744073709551615n;
const SHAPE = /^(\d{1,20})-(\d{1,20})$/;

/** The two parts of an event id, or null when `id` is not one (wrong shape, or a part over 2^64 - 1). */
export function parseEventId(id: string): { ms: bigint; n: bigint } | null {
  const m = SHAPE.exec(id);
  if (!m) return null;
  const ms = BigInt(m[1]!);
  const n = BigInt(m[2]!);
  return ms <= UINT64_MAX && n <= UINT64_MAX ? { ms, n } : null;
}

/**
 * Orders two event ids (negative, 0, positive). Something that is not an event id counts as `0-0`,
 * so a garbled id can never rank after real ones (the caller then simply reads from the start).
 */
export function compareEventIds(a: string, b: string): number {
  const x = parseEventId(a) ?? { ms: 0n, n: 0n };
  const y = parseEventId(b) ?? { ms: 0n, n: 0n };
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  if (x.n !== y.n) return x.n < y.n ? -1 : 1;
  return 0;
}

/** The later of two event ids (null counts as "before everything"). */
export function laterEventId(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareEventIds(a, b) >= 0 ? a : b;
}

/** When Redis added the entry (its ms part), or null for something that is not an event id. */
export function eventIdTimeMs(id: string): number | null {
  const parsed = parseEventId(id);
  return parsed ? Number(parsed.ms) : null;
}

/**
 * One number that orders event ids (ms * 1e9 + n, as a decimal string for a PostgreSQL bigint/numeric):
 * the version stored with each row the outbox consumer writes. Throws on a non-id: a version made up
 * from garbage would let an older row overwrite a newer one.
 */
export function eventIdVersion(id: string): string {
  const parsed = parseEventId(id);
  if (!parsed) throw new Error(`not an event id: ${JSON.stringify(id)}`);
  return (parsed.ms * 1_000_000_000n + parsed.n).toString();
}
