import 'server-only';

/**
 * The key schema: the only place key strings are built.
 *
 * Every key of a project carries `{<projectId>}`, a Redis Cluster hash tag, so all of a project's keys
 * share one slot and one Lua script may touch them atomically. User and login-session keys live outside
 * project slots; nothing atomic spans the two.
 *
 * No chat key ever gets a TTL (the seed's SETEX made history vanish). Only login sessions expire.
 */
export const keys = {
  /** HASH id, name, ownerId, createdAt, lastActivityAt */
  project: (pid: string) => `project:{${pid}}`,
  /** SET of member user ids */
  members: (pid: string) => `project:{${pid}}:members`,
  /** HASH invited user id -> JSON {inviterId, inviterName, invitedAt}: pending invitations */
  invites: (pid: string) => `project:{${pid}}:invites`,
  /**
   * SET of user ids who left the project: a re-hydration from PostgreSQL (which may still list them
   * until the outbox delivers the removal) must not make them members again. Accepting a new
   * invitation takes the id out.
   */
  leftMembers: (pid: string) => `project:{${pid}}:left`,
  /** ZSET session id scored by last activity (ms): most recent first via ZREVRANGE */
  sessions: (pid: string) => `project:{${pid}}:sessions`,
  /** HASH session metadata and counters (messageCount, lastSeq, lastMessageAt, ...) */
  session: (pid: string, sid: string) => `project:{${pid}}:sessions:${sid}`,
  /**
   * The base name of a session's message bodies: they live in buckets (messageBucket) named after it.
   * Scripts are given this key and build the buckets from it (same slot). Before buckets, this key
   * itself was ONE hash seq -> body; scripts still read such a hash and convert it on the session's
   * next write (lua/includes/message-keys.lua).
   */
  messages: (pid: string, sid: string) => `project:{${pid}}:sessions:${sid}:messages`,
  /**
   * HASH seq -> message body (codec.ts encodeMessage) for the seqs of one bucket (messageBucketOf):
   * 128 consecutive seqs, so each stays a listpack (redis.conf) at a few bytes per field over the body,
   * where one hash of a whole session paid ~90 (a dict entry and two rounded-up allocations per field).
   * Seqs are gap-free (1..lastSeq; deletes are soft), so a page is one HMGET per bucket it spans (at
   * most two for a page of up to 128).
   */
  messageBucket: (pid: string, sid: string, bucket: number) => `project:{${pid}}:sessions:${sid}:messages:${bucket}`,
  /**
   * The base name of the message id index, bucketed like the bodies (messageIdBucket). Before buckets,
   * ONE hash under this name; still read, and emptied session by session as sessions are converted.
   */
  messageIds: (pid: string) => `project:{${pid}}:messages:ids`,
  /**
   * HASH messageIdField(id) -> "<seq>:<messageIdField(sid)>" for the ids of one bucket
   * (messageIdBucketOf): the idempotency index (a repeated id returns the stored message) and lookup
   * by id. Project-wide, so one id can never name two messages in different sessions. UUIDs are
   * stored packed (16 bytes, not 36 characters), so an entry is ~25 bytes of data instead of ~80.
   * 256 buckets (+ `x` for ids not ending in hex): at 100 messages a project has ~100 one-entry
   * buckets (~100 B each: more than one hash, but small projects are small anyway); at 20,000 ~80
   * entries per bucket (listpacks, ~45 B per id); past 256 x hash-max-listpack-entries (512: ~130,000
   * messages) buckets turn into ordinary hashes one by one, and at 1,000,000 (~3,900 per bucket) an id
   * costs ~95 B (a dict entry and two allocations, of packed strings): still correct, less dense.
   * Only Lua reads and writes it (lua/includes/message-keys.lua; read-message-1 for TypeScript).
   */
  messageIdBucket: (pid: string, bucket: string) => `project:{${pid}}:messages:ids:${bucket}`,
  /** LIST of "<sid>:<seq>", newest first, capped: the project's recent messages across sessions */
  recent: (pid: string) => `project:{${pid}}:recent`,
  /** STREAM: the project's event log, trimmed with MAXLEN ~ */
  events: (pid: string) => `project:{${pid}}:events`,
  /**
   * HASH session id -> last-read seq, per user: read markers (unread = lastSeq - lastRead). In the
   * project's slot, so a script can read them beside the sessions.
   */
  reads: (pid: string, uid: string) => `project:{${pid}}:reads:${uid}`,
  /**
   * ZSET seq -> seq: the messages of one session that mention one user (src/shared/mentions.ts),
   * written by the append and edit scripts. Unread mentions = ZCOUNT (lastRead, +inf]. Scripts build
   * it from mentionKeyPrefix (same slot).
   */
  mentions: (pid: string, uid: string, sid: string) => `${mentionKeyPrefix(pid)}${uid}:${sid}`,
  /**
   * Pub/sub channel of one project's EPHEMERAL signals (typing, presence): never in the event log, so
   * a burst of them cannot trim real events away.
   */
  projectSignals: (pid: string) => `project:{${pid}}:signals`,
  /**
   * ZSET user id -> ms until which their last presence heartbeat holds, and HASH user id -> state
   * ("active" | "idle"). Expired members are swept by the next heartbeat; readers filter by time.
   */
  presence: (pid: string) => `project:{${pid}}:presence`,
  presenceState: (pid: string) => `project:{${pid}}:presence:state`,
  /** Pub/sub channel nudged by every write, so per-process tails read the log right away */
  wakeChannel: (pid: string) => `project:{${pid}}:wake`,

  /**
   * STREAM with consumer group `ai`: the project's AI PM reply jobs. Appended in the same script as
   * the user's message (same slot), or by a Retry of a failed answer; an entry is acknowledged and
   * deleted once its answer is finished or given up (a job failing on every delivery).
   */
  aiJobs: (pid: string) => `project:{${pid}}:ai:jobs`,
  /** ZSET answer message id -> lease expiry (ms): the project's generations running now (its limit). */
  aiRunning: (pid: string) => `project:{${pid}}:ai:running`,
  /** SET of answer message ids a member asked to stop (read by whichever worker writes them). */
  aiStops: (pid: string) => `project:{${pid}}:ai:stops`,

  /** HASH id, username, passwordHash, createdAt */
  user: (uid: string) => `user:${uid}`,
  /** STRING lower-cased username -> user id (SET NX makes usernames unique, case-insensitively) */
  username: (name: string) => `username:${name.toLowerCase()}`,
  /** Pub/sub channel of signals for one user only (read markers moved in another tab or device) */
  userSignals: (uid: string) => `user:${uid}:signals`,
  /** ZSET project id scored by join time: the projects a user belongs to */
  userProjects: (uid: string) => `user:${uid}:projects`,
  /**
   * STRING counter of sign-in attempts for a username from one client IP that have not succeeded,
   * expiring: brute-force throttling. Counted BEFORE the password is checked, so concurrent guesses
   * cannot all slip through; keyed with the IP too, so a stranger cannot lock the owner out.
   */
  signInFailures: (name: string, ip: string) => `auth:failures:${name.toLowerCase()}:${ip}`,
  /** Prefix of rate-limiter-flexible's counters for one limit window (it appends `:<user id or IP>`). */
  rateLimit: (rule: string, windowSeconds: number) => `limit:${rule}:${windowSeconds}s`,
  /** Pub/sub channel announcing revoked logins (token hashes), so every process ends their streams. */
  loginRevoked: 'auth:revoked',
  /** ZSET project id -> invited at (ms): the invitations a user has not answered yet */
  userInvites: (uid: string) => `user:${uid}:invites`,
  /**
   * STRING "<userId> <username>", with an expiry; the token itself is never stored, only its SHA-256.
   * After sign-out: a revocation tombstone (LOGIN_REVOKED) until the login would have expired.
   */
  loginSession: (tokenHash: string) => `auth:session:${tokenHash}`,

  /** HASH answer message id -> 1: the AI answers a user asked for on one UTC day (their quota), expiring. */
  aiQuota: (uid: string, day: string) => `ai:quota:${uid}:${day}`,
  /** Pub/sub: a project id, published when a job is queued (workers then read that project's jobs). */
  aiWakeChannel: 'parley:ai:wake',
  /** Pub/sub: "<projectId> <answer id>", published when a member stops a generation. */
  aiStopChannel: 'parley:ai:stop',

  /**
   * STREAM: one partition of the durable tier's outbox (only written when DATABASE_URL is set). Every
   * write script also appends its change to the partition of its keys' hash slot, in the same script,
   * and a consumer group persists every partition to PostgreSQL, then acknowledges and deletes the
   * entry (never MAXLEN-trimmed: an entry leaves only once persisted). `tag` is a string whose CRC16
   * slot is the slot of the written keys (src/server/redis/outbox-partitions.ts picks it), so the
   * partition lives beside them on a Redis Cluster and on a standalone Redis alike.
   */
  outboxPartition: (tag: string) => `parley:outbox:{${tag}}`,
  /** STREAM: entries of one partition that failed too often to persist, with the last error (for an operator). */
  outboxPartitionDead: (tag: string) => `parley:outbox:{${tag}}:dead`,
  /**
   * STREAM: the single outbox of releases before the partitioned one (outside every project slot). No
   * write appends to it any more; the consumer drains what an upgrade left in it, then it is gone.
   */
  outboxLegacy: 'parley:outbox',
  /**
   * STREAM: the legacy outbox's dead letters written by earlier releases (kept for an operator; health
   * counts them). Legacy entries dead-lettered now go beside the partition of `outboxLegacy`'s slot
   * (deadLettersOf), in one MULTI with their removal, which a cluster allows only within one slot.
   */
  outboxDead: 'parley:outbox:dead',

  /**
   * HASH: the ledger of `npm run migrate:legacy -- --apply` (src/server/legacy): one field per project,
   * session and message the migration added (`p:<pid>`, `s:<pid>:<sid>`, `m:<pid>:<mid>`), written
   * before the thing itself, so `--rollback` can remove exactly what the migration added.
   */
  legacyLedger: 'parley:legacy:ledger',
} as const;

/**
 * Scripts that walk a project's sessions build session keys from this prefix: `prefix..sid` is
 * keys.session and `prefix..sid..":messages"` is keys.messages (a unit test pins that they agree).
 * The keys stay in the project's slot, so this is safe under Redis Cluster.
 */
export const sessionKeyPrefix = (pid: string) => `project:{${pid}}:sessions:`;
export const MESSAGES_SUFFIX = ':messages';

/** Seqs per body bucket (keys.messageBucket). Mirrored in lua/includes/message-keys.lua. */
export const MESSAGES_PER_BUCKET = 128;

/** The body bucket of a seq (seqs start at 1): bucket n holds n*128+1 .. (n+1)*128. */
export function messageBucketOf(seq: number): number {
  return Math.floor((seq - 1) / MESSAGES_PER_BUCKET);
}

/**
 * The id-index bucket of a message id (keys.messageIdBucket): its last two characters lower-cased
 * when they are hex digits (UUIDs: 256 even buckets), else `x`. Mirrored in lua/includes/message-keys.lua
 * (byte-wise there: a non-ASCII tail is not hex on either side, so both say `x`).
 */
export function messageIdBucketOf(id: string): string {
  const tail = id.slice(-2);
  return /^[0-9a-fA-F]{2}$/.test(tail) ? tail.toLowerCase() : 'x';
}

/**
 * An id (message or session) as the id index stores it; the Lua mirror is packed_id in
 * lua/includes/message-keys.lua. A canonical lower-case UUID: its 16 bytes. Any other id: its text,
 * behind ':' when that text is 16 bytes long itself, so it never equals a packed one (ids hold no ':').
 */
export function messageIdField(id: string): Buffer | string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return Buffer.from(id.replaceAll('-', ''), 'hex');
  return Buffer.byteLength(id) === 16 ? `:${id}` : id;
}

/** Every id-index bucket name there can be (a project's whole index is these 257 keys). */
export const MESSAGE_ID_BUCKETS: readonly string[] = [
  ...Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')),
  'x',
];

/** The body bucket keys of a session whose seqs are 1..lastSeq. */
export function messageBuckets(pid: string, sid: string, lastSeq: number): string[] {
  return lastSeq < 1 ? [] : Array.from({ length: messageBucketOf(lastSeq) + 1 }, (_, n) => keys.messageBucket(pid, sid, n));
}

/** The start of a user's mention set keys (keys.mentions): scripts append `<uid>:<sid>`. */
export const mentionKeyPrefix = (pid: string) => `project:{${pid}}:mentions:`;

// ------------------------------------------------------------------------------- patterns and parsers
// Code that scans keys or reads what a key or index entry names goes through these, never through its
// own regex or split: a pattern and its parser are derived from the builder above, so they cannot
// drift from the key they read.

/** Marks where a builder puts its id, to split the key it builds into the text before and after. */
const HOLE = '\u0000';

/** The SCAN pattern of every key `build` makes: `keyPattern(keys.aiJobs)` is `project:{*}:ai:jobs`. */
export function keyPattern(build: (id: string) => string): string {
  return build('*');
}

/**
 * The id `build` put into `key` (`idInKey(keys.aiJobs, 'project:{p1}:ai:jobs')` is `p1`), or null when
 * `key` is not of that builder's shape. Ids never hold `:`, `{` or `}` (they are UUIDs or token
 * hashes), so a key of a longer shape (`project:{p}:sessions:<sid>` against keys.sessions) is refused.
 */
export function idInKey(build: (id: string) => string, key: string): string | null {
  const [prefix = '', suffix = ''] = build(HOLE).split(HOLE);
  if (key.length <= prefix.length + suffix.length || !key.startsWith(prefix) || !key.endsWith(suffix)) return null;
  const id = key.slice(prefix.length, key.length - suffix.length);
  return /[:{}]/.test(id) ? null : id;
}

/** SCAN pattern matching every project's AI job stream (a worker's sweep for jobs nobody announced). */
export const AI_JOBS_PATTERN = keyPattern(keys.aiJobs);

/** SCAN pattern matching every outbox partition (not their dead letters: those end in `:dead`). */
export const OUTBOX_PARTITION_PATTERN = keyPattern(keys.outboxPartition);

/** The fields of keys.legacyLedger: one per project, session and message the legacy migration added. */
export const legacyLedgerField = {
  project: (pid: string) => `p:${pid}`,
  session: (pid: string, sid: string) => `s:${pid}:${sid}`,
  message: (pid: string, mid: string) => `m:${pid}:${mid}`,
};

export type LegacyLedgerEntry =
  | { kind: 'project'; pid: string }
  | { kind: 'session'; pid: string; sid: string }
  | { kind: 'message'; pid: string; mid: string };

/** What a keys.legacyLedger field records, or null for a field of no known shape. */
export function parseLegacyLedgerField(field: string): LegacyLedgerEntry | null {
  const [kind, pid, id] = field.split(':');
  if (!pid) return null;
  if (kind === 'p' && id === undefined) return { kind: 'project', pid };
  if (kind === 's' && id) return { kind: 'session', pid, sid: id };
  if (kind === 'm' && id) return { kind: 'message', pid, mid: id };
  return null;
}

// ------------------------------------------------------------------------------------ legacy keys

/**
 * The OLD product's keys (seed 000), which `npm run migrate:legacy` reads (see src/server/legacy/format.ts
 * for what each holds). Never written by Parley; the test fixtures write them as the seed did. Their ids
 * are the old product's (any text without `:`), not UUIDs.
 */
export const legacyKeys = {
  memory: (pid: string, type: string, key: string) => `project:${pid}:memory:${type}:${key}`,
  blob: (sid: string) => `session_${sid}`,
  sessionSet: (pid: string) => `project:${pid}:sessions`,
  sessionHash: (pid: string, sid: string) => `project:${pid}:sessions:${sid}`,
  messageList: (pid: string, sid: string) => `project:${pid}:sessions:${sid}:messages`,
  messageBody: (pid: string, sid: string, mid: string) => `project:${pid}:sessions:${sid}:messages:${mid}`,
};

export type LegacyKey =
  | { kind: 'memory'; pid: string; type: string; key: string }
  | { kind: 'blob'; sid: string }
  | { kind: 'sessionSet'; pid: string }
  | { kind: 'sessionHash'; pid: string; sid: string }
  | { kind: 'messageList'; pid: string; sid: string }
  | { kind: 'messageBody'; pid: string; sid: string; mid: string };

/**
 * Which legacy structure a key is, or null. Parley's own keys (`project:{<pid>}...`, braces) are never
 * legacy keys, so the tool can read an old Redis that Parley already shares.
 */
export function parseLegacyKey(key: string): LegacyKey | null {
  if (key.startsWith('session_')) return key.length > 8 ? { kind: 'blob', sid: key.slice(8) } : null;
  let m = /^project:([^:{}]+):memory:([^:]+):(.+)$/.exec(key);
  if (m) return { kind: 'memory', pid: m[1]!, type: m[2]!, key: m[3]! };
  m = /^project:([^:{}]+):sessions$/.exec(key);
  if (m) return { kind: 'sessionSet', pid: m[1]! };
  m = /^project:([^:{}]+):sessions:([^:]+)$/.exec(key);
  if (m) return { kind: 'sessionHash', pid: m[1]!, sid: m[2]! };
  m = /^project:([^:{}]+):sessions:([^:]+):messages$/.exec(key);
  if (m) return { kind: 'messageList', pid: m[1]!, sid: m[2]! };
  m = /^project:([^:{}]+):sessions:([^:]+):messages:(.+)$/.exec(key);
  if (m) return { kind: 'messageBody', pid: m[1]!, sid: m[2]!, mid: m[3]! };
  return null;
}
