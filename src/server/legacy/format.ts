import 'server-only';
import { z } from 'zod';

/**
 * The old product's storage, as seed 000 describes it (these are the shapes the migration reads; test
 * fixtures write them with the seed's own commands, see ../testing/legacy-fixtures.ts):
 *
 * - the "memory" layout `project:<pid>:memory:<type>:<key>` (JSON strings). Types `chat` and
 *   `chat_message` hold chat entries (one message, or an array of messages); every other type
 *   (context, decisions, ...) is not chat and is left alone.
 * - `session_<sid>`: a JSON string of the old session blob, `{id, project_id, title, created_at,
 *   messages: [...]}`.
 * - the seed's interim layout: `project:<pid>:sessions` (SET of session ids), `project:<pid>:sessions:<sid>`
 *   (HASH, snake_case fields, with an EXPIRE), `project:<pid>:sessions:<sid>:messages` (LIST of message
 *   ids filled with LPUSH: newest first) and `project:<pid>:sessions:<sid>:messages:<mid>` (JSON
 *   string written with SETEX: some bodies have expired while their id is still in the list).
 *
 * Legacy timestamps are Python `datetime.utcnow().isoformat()`: no zone (UTC meant), microseconds.
 */

export const CHAT_MEMORY_TYPES: ReadonlySet<string> = new Set(['chat', 'chat_message']);

/** One old message (UnifiedMessage.dict() as json.dumps wrote it). Unknown fields are kept aside. */
export const legacyMessageSchema = z.looseObject({
  id: z.string().min(1).max(200),
  project_id: z.string().optional(),
  session_id: z.string().optional(),
  role: z.enum(['user', 'ai_pm']),
  content: z.string(),
  created_at: z.string().refine((s) => parseLegacyTime(s) !== null, { error: 'created_at is not a timestamp' }),
  updated_at: z.string().nullish(),
  user_id: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  ai_response: z.record(z.string(), z.unknown()).nullish(),
  confidence: z.number().nullish(),
  status: z.string().nullish(),
  is_edited: z.boolean().nullish(),
  reactions: z.array(z.looseObject({ emoji: z.string().optional() })).nullish(),
});
export type LegacyMessage = z.infer<typeof legacyMessageSchema>;

/** The `session_<sid>` blob. */
export const legacySessionBlobSchema = z.looseObject({
  id: z.string().optional(),
  project_id: z.string().min(1),
  title: z.string().nullish(),
  description: z.string().nullish(),
  created_at: z.string().nullish(),
  messages: z.array(z.unknown()).nullish(),
});

/**
 * A legacy timestamp as microseconds since the epoch (for ordering: two messages in the same
 * millisecond keep their microsecond order), or null. No zone means UTC (utcnow()).
 */
export function parseLegacyTime(s: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(s.trim());
  if (!m) return null;
  const zone = m[4] === undefined || m[4] === 'Z' ? 'Z' : m[4];
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) return null;
  const micros = Number((m[3] ?? '').padEnd(6, '0'));
  return ms * 1000 + micros;
}

/** ISO-8601 with milliseconds and Z, as Parley stores times. */
export function legacyTimeToIso(s: string): string {
  const micros = parseLegacyTime(s);
  if (micros === null) throw new Error(`not a legacy timestamp: ${s}`);
  return new Date(Math.floor(micros / 1000)).toISOString();
}
