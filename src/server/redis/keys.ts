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
   * HASH seq -> message body (JSON). Seqs are gap-free (1..lastSeq; deletes are soft), so this hash is
   * the ordered index too: a page is one HMGET of a seq range, no second lookup per message.
   */
  messages: (pid: string, sid: string) => `project:{${pid}}:sessions:${sid}:messages`,
  /**
   * HASH message id -> "<sid>:<seq>": the idempotency index (a repeated id returns the stored message)
   * and lookup by id. Project-wide, so one id can never name two messages in different sessions.
   */
  messageIds: (pid: string) => `project:{${pid}}:messages:ids`,
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
  mentions: (pid: string, uid: string, sid: string) => `project:{${pid}}:mentions:${uid}:${sid}`,
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
   * STREAM with consumer group `ai`: the project's AI PM reply jobs. Appended by the same script that
   * stores the user's message (same slot); an entry is deleted once its answer is finished.
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
   * STREAM: the durable tier's outbox (only written when DATABASE_URL is set). Every write script also
   * appends its change here, in the same script, and a consumer group persists it to PostgreSQL, then
   * acknowledges and deletes the entry (never MAXLEN-trimmed: an entry leaves only once persisted).
   * It lives outside every project slot, so on Redis Cluster a script touching a project and the
   * outbox would be cross-slot: the durable tier needs standalone Redis (or Sentinel).
   */
  outbox: 'parley:outbox',
  /** STREAM: outbox entries that failed too often to persist, with the last error (for an operator). */
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

/** `prefix..uid..":"..sid` is keys.mentions (a unit test pins that they agree). */
export const mentionKeyPrefix = (pid: string) => `project:{${pid}}:mentions:`;

/** SCAN pattern matching every project's AI job stream (a worker's sweep for jobs nobody announced). */
export const AI_JOBS_PATTERN = 'project:{*}:ai:jobs';
