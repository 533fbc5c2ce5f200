import 'server-only';
import { randomBytes } from 'node:crypto';
import {
  AUTH_OPS,
  checkPassword,
  hashToken,
  LOGIN_SESSION_TTL_SECONDS,
  SIGN_IN_MAX_FAILURES,
  type AuthedUser,
  type AuthService,
  type AuthServiceApi,
  type LoginLookup,
  type UserRecord,
  withNames,
} from '~/server/auth/service';
import { CHAT_OPS, type AppendMessageInput, type AppendResult, type ChatRepository, type ChatStore, type StoreCommand } from '~/server/chat/store';
import { AppError, isRedisUnavailable, projectNotFound, tooManyRequests } from '~/server/errors';
import { errorFields, logger } from '~/server/log';
import { metrics, timed } from '~/server/metrics';
import type {
  MemberDTO,
  MessageDTO,
  MessagePage,
  ProjectDTO,
  InvitationDTO,
  SessionDTO,
  UserDTO,
} from '~/shared/types';
import type { RedisBreaker } from './breaker';
import type { Hydrator } from './hydrate';
import { PostgresUnavailableError } from './pg';
import type { PgStore } from './pg-store';
import { readProjectsOf, readRecent, readSessions, recentCommand, type RecentRead } from './redis-readers';
import type { ScriptedRedis } from '~/server/redis/scripts';

const log = logger('tiered');

/** What the wrappers need from the durable tier. */
export interface TierDeps {
  /** The Redis connection, for the tier's own repair reads (./redis-readers.ts). */
  redis: ScriptedRedis;
  pg: PgStore;
  breaker: RedisBreaker;
  hydrator: Hydrator;
  /** How long a read or send waits for Redis before PostgreSQL serves it. */
  deadlineMs: number;
}

/** Redis did not answer within the failover deadline. */
export class RedisDeadlineError extends AppError {
  constructor(ms: number) {
    super('UNAVAILABLE', `Redis did not answer within ${ms} ms`);
    this.name = 'RedisDeadlineError';
  }
}

/** True when `err` means Redis (not PostgreSQL, not the request) cannot serve right now. */
export function isRedisDown(err: unknown): boolean {
  if (err instanceof RedisDeadlineError) return true;
  if (err instanceof PostgresUnavailableError) return false;
  if (err instanceof AppError) return err.code === 'UNAVAILABLE' && isRedisUnavailable(err.cause);
  return isRedisUnavailable(err);
}

function isNotFound(err: unknown): boolean {
  return err instanceof AppError && err.code === 'NOT_FOUND';
}

/** `promise`, or a RedisDeadlineError after `ms` (the command itself still ends on its own timeout). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisDeadlineError(ms)), ms);
  });
  // The losing side may still reject later; that must not become an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Runs `op`, but a PostgreSQL failure yields `fallback` (used where PostgreSQL only helps). */
async function orElse<T>(op: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!(err instanceof PostgresUnavailableError)) throw err;
    log.debug({ ...errorFields(err) }, 'PostgreSQL unavailable for a read-through check');
    return fallback;
  }
}

/**
 * The routing both facades share. Reads: Redis first (under the failover deadline); a record Redis
 * lacks is re-hydrated from PostgreSQL and read again (read-through); a Redis failure, or an open
 * breaker, serves the read from PostgreSQL. Writes: Redis only (it is the authority); with the breaker
 * open they fail fast with UNAVAILABLE - except sends, which the store facade keeps in PostgreSQL.
 */
abstract class Tiered {
  constructor(protected readonly tier: TierDeps) {}

  /**
   * One read: `redis` first, under the failover deadline; a Redis failure or an open breaker serves
   * `pg`. `readThrough` runs when Redis says NOT_FOUND: it re-hydrates, and its last Redis call also
   * answers the read (Hydrator.sessionThen), so a miss costs Redis -> PostgreSQL -> one Redis call;
   * null when PostgreSQL lacks the record too. `repair`
   * runs on a Redis answer that may be incomplete because Redis lost data (an empty index, an unknown
   * name) and returns the corrected answer. Neither is under the failover deadline: a large
   * re-hydration may take longer than a read, and is not a sign that Redis is down.
   */
  protected async read<T>(o: {
    op: string;
    redis: () => Promise<T>;
    pg: () => Promise<T>;
    readThrough?: () => Promise<{ value: T } | null>;
    repair?: (fromRedis: T) => Promise<T>;
  }): Promise<T> {
    const m = metrics();
    const { op, readThrough, repair } = o;
    const { breaker, deadlineMs } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        const result = await this.timed(op, 'redis', () => withDeadline(o.redis(), deadlineMs));
        breaker.recordSuccess();
        m.cacheReads.inc({ op, result: 'hit' });
        return repair ? await repair(result) : result;
      } catch (err) {
        if (readThrough && isNotFound(err)) {
          try {
            const through = await orElse(readThrough, null);
            if (through) {
              m.cacheReads.inc({ op, result: 'read_through' });
              return through.value;
            }
          } catch (again) {
            if (!isRedisDown(again)) throw again;
            breaker.recordFailure(again);
            return this.failover(op, o.pg);
          }
          m.cacheReads.inc({ op, result: 'miss' });
          throw err;
        }
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    return this.failover(op, o.pg);
  }

  /**
   * One write, Redis only. `readThrough` runs when Redis says NOT_FOUND: it re-hydrates and writes
   * again (the write riding in the re-hydration's call where it is one command, else right after);
   * null when PostgreSQL lacks the record too.
   */
  protected async write<T>(op: string, viaRedis: () => Promise<T>, readThrough?: () => Promise<{ value: T } | null>): Promise<T> {
    const { breaker } = this.tier;
    if (!breaker.allowsRedis()) {
      throw new AppError('UNAVAILABLE', 'The chat store is recovering; please retry shortly');
    }
    try {
      const result = await this.timed(op, 'redis', viaRedis);
      breaker.recordSuccess();
      return result;
    } catch (err) {
      const through = readThrough && isNotFound(err) ? await orElse(() => this.timed(op, 'redis', readThrough), null) : null;
      if (through) {
        metrics().cacheReads.inc({ op, result: 'read_through' });
        return through.value;
      }
      if (isRedisDown(err)) breaker.recordFailure(err);
      throw err;
    }
  }

  /**
   * A re-hydration, then `op` again on its own: for writes that read before they write (a
   * compare-and-set), which cannot ride in the re-hydration's call.
   */
  protected async thenRetry<T>(rehydrate: () => Promise<boolean>, op: () => Promise<T>): Promise<{ value: T } | null> {
    return (await rehydrate()) ? { value: await op() } : null;
  }

  protected async failover<T>(op: string, viaPg: () => Promise<T>): Promise<T> {
    metrics().cacheReads.inc({ op, result: 'failover' });
    return this.timed(op, 'postgres', viaPg);
  }

  protected timed<T>(op: string, backend: 'redis' | 'postgres', fn: () => Promise<T>): Promise<T> {
    return timed(metrics().storeOpDuration, { op, backend }, fn);
  }

}

/**
 * The chat repository with the durable tier on (it exists only when DATABASE_URL is set): the Redis
 * ChatStore, plus read-through from and failover to PostgreSQL. The ChatStore itself knows nothing of
 * this; the repairs read Redis through ./redis-readers.ts.
 */
export class TieredChatStore extends Tiered implements ChatRepository {
  constructor(
    private readonly store: ChatStore,
    tier: TierDeps,
  ) {
    super(tier);
  }

  createProject(input: { name: string; owner: { id: string; username: string } }): Promise<ProjectDTO> {
    return this.write(CHAT_OPS.createProject, () => this.store.createProject(input));
  }

  listProjectsFor(userId: string): Promise<ProjectDTO[]> {
    const { redis, pg, hydrator } = this.tier;
    const op = CHAT_OPS.listProjectsFor;
    return this.read({
      op,
      redis: () => readProjectsOf(redis, userId),
      pg: async () => ({ projects: await pg.listProjectsFor(userId), indexed: 0, missing: [] }),
      repair: async (found) => {
        // Redis lost the user's project index, or projects it names: re-hydrate, then read again.
        let repaired = false;
        if (found.indexed === 0 && (await orElse(() => hydrator.userProjects(userId), 0)) > 0) {
          found = await readProjectsOf(redis, userId);
          repaired = true;
        }
        if (found.missing.length > 0) {
          for (const pid of found.missing) await orElse(() => hydrator.project(pid), false);
          found = await readProjectsOf(redis, userId);
          repaired = true;
        }
        if (repaired) metrics().cacheReads.inc({ op, result: 'read_through' });
        return found;
      },
    }).then((found) => found.projects);
  }

  getProject(projectId: string): Promise<{ project: ProjectDTO; memberIds: string[] }> {
    const { pg, hydrator } = this.tier;
    return this.read({
      op: CHAT_OPS.getProject,
      redis: () => this.store.getProject(projectId),
      pg: async () => {
        const found = await pg.getProject(projectId);
        if (!found) throw projectNotFound();
        return found;
      },
      readThrough: () => hydrator.projectThen(projectId, this.store.getProjectRead(projectId)),
    });
  }

  isMember(projectId: string, userId: string): Promise<boolean> {
    const { pg, hydrator } = this.tier;
    const op = CHAT_OPS.isMember;
    return this.read({
      op,
      redis: () => this.store.isMember(projectId, userId),
      pg: () => pg.isMember(projectId, userId),
      repair: async (member) => {
        if (member) return true;
        // Redis says no. If PostgreSQL says yes, Redis lost the project (or this membership): bring
        // it back. PostgreSQL down: Redis's answer stands.
        if (!(await orElse(() => pg.isMember(projectId, userId), false))) return false;
        await orElse(() => hydrator.project(projectId), false);
        metrics().cacheReads.inc({ op, result: 'read_through' });
        return this.store.isMember(projectId, userId);
      },
    });
  }

  addMember(projectId: string, member: MemberDTO): Promise<boolean> {
    const add = () => this.store.addMember(projectId, member);
    return this.write(CHAT_OPS.addMember, add, () => this.thenRetry(() => this.tier.hydrator.project(projectId), add));
  }

  // Invitations and leaving need Redis (writes; the invitation list lives only in Redis).
  invite(...args: Parameters<ChatStore['invite']>): ReturnType<ChatStore['invite']> {
    const [projectId] = args;
    const invite = () => this.store.invite(...args);
    return this.write(CHAT_OPS.invite, invite, () => this.thenRetry(() => this.tier.hydrator.project(projectId), invite));
  }

  listInvitations(userId: string): Promise<InvitationDTO[]> {
    return this.write(CHAT_OPS.listInvitations, () => this.store.listInvitations(userId));
  }

  acceptInvite(...args: Parameters<ChatStore['acceptInvite']>): ReturnType<ChatStore['acceptInvite']> {
    return this.write(CHAT_OPS.acceptInvite, () => this.store.acceptInvite(...args));
  }

  declineInvite(projectId: string, userId: string): Promise<void> {
    return this.write(CHAT_OPS.declineInvite, () => this.store.declineInvite(projectId, userId));
  }

  leaveProject(projectId: string, member: MemberDTO): Promise<void> {
    return this.write(CHAT_OPS.leaveProject, () => this.store.leaveProject(projectId, member));
  }

  countProjectsOf(userId: string): Promise<number> {
    return this.write(CHAT_OPS.countProjectsOf, () => this.store.countProjectsOf(userId));
  }

  createSession(input: Parameters<ChatStore['createSession']>[0]): Promise<SessionDTO> {
    return this.write(CHAT_OPS.createSession, () => this.store.createSession(input));
  }

  getSession(projectId: string, sessionId: string): Promise<SessionDTO> {
    const { pg, hydrator } = this.tier;
    return this.read({
      op: CHAT_OPS.getSession,
      redis: () => this.store.getSession(projectId, sessionId),
      pg: async () => {
        const found = await pg.getSession(projectId, sessionId);
        if (!found) {
          throw new AppError('UNAVAILABLE', 'This session is not available until the chat store is back; please retry shortly');
        }
        return found;
      },
      readThrough: () => hydrator.sessionThen(projectId, sessionId, this.store.getSessionRead(projectId, sessionId)),
    });
  }

  listSessions(projectId: string, limit = 500): Promise<SessionDTO[]> {
    const { redis, pg, hydrator } = this.tier;
    const op = CHAT_OPS.listSessions;
    return this.read({
      op,
      redis: () => readSessions(redis, projectId, limit),
      pg: async () => ({ sessions: await pg.listSessions(projectId, limit), missing: [], order: [] }),
      repair: async (found) => {
        // Sessions the index names but Redis does not hold (lost data; idle eviction keeps records):
        // bring them back, each re-hydration answering with its record, which takes its place in the
        // list (the index order read above) - no second listing.
        if (found.missing.length === 0) return found;
        const byId = new Map(found.sessions.map((s) => [s.id, s]));
        for (const sid of found.missing) {
          const back = await orElse(() => hydrator.sessionThen(projectId, sid, this.store.getSessionRead(projectId, sid)), null);
          if (back) byId.set(sid, back.value);
        }
        if (byId.size === found.sessions.length) return found;
        metrics().cacheReads.inc({ op, result: 'read_through' });
        const sessions = found.order.flatMap((sid) => byId.get(sid) ?? []);
        return { sessions, missing: found.missing.filter((sid) => !byId.has(sid)), order: found.order };
      },
    }).then((found) => found.sessions);
  }

  updateSession(input: Parameters<ChatStore['updateSession']>[0]): Promise<SessionDTO> {
    // A new command each time: its updatedAt is the time of the attempt.
    return this.write(CHAT_OPS.updateSession, () => this.store.updateSession(input), () =>
      this.tier.hydrator.sessionThen(input.projectId, input.sessionId, this.store.updateSessionCommand(input)),
    );
  }

  /**
   * Sends. Redis first (under the failover deadline); when Redis is down or the breaker is open, the
   * message is kept in PostgreSQL as pending and acknowledged with a provisional seq. When Redis is
   * back it is replayed through this same idempotent append, which gives it its final seq. A send
   * whose Redis outcome is unknown (deadline passed) may be in both: the replay then finds the id in
   * Redis and stores nothing twice.
   */
  async appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    const { breaker, deadlineMs, pg } = this.tier;
    const op = CHAT_OPS.appendMessage;
    // Reconciling: wait a moment for the close, so this send gets its seq after the replayed ones.
    if (breaker.state === 'half_open') await breaker.whenClosed(deadlineMs);
    if (breaker.allowsRedis()) {
      try {
        // The session is not in Redis: lost with Redis's data? Re-hydrate it (no deadline), the
        // append riding in the re-hydration's call.
        const result = await this.timed(op, 'redis', () =>
          appendWithReadThrough(this.store, this.tier.hydrator, input, (append) => withDeadline(append, deadlineMs)),
        );
        breaker.recordSuccess();
        return result;
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    const message = await this.timed(op, 'postgres', () => pg.appendPending(input));
    metrics().failoverSends.inc();
    log.info({ projectId: input.projectId, sessionId: input.sessionId, messageId: input.id }, 'send kept in PostgreSQL while Redis is down');
    return { message, stored: null, created: true, eventId: null, outboxId: null };
  }

  changeMessage(...args: Parameters<ChatStore['changeMessage']>): Promise<MessageDTO> {
    const [ref] = args;
    const change = () => this.store.changeMessage(...args);
    return this.write(CHAT_OPS.changeMessage, change, () =>
      this.thenRetry(() => this.tier.hydrator.session(ref.projectId, ref.sessionId), change),
    );
  }

  requeueAnswer(input: Parameters<ChatStore['requeueAnswer']>[0]): Promise<boolean> {
    const requeue = () => this.store.requeueAnswer(input);
    return this.write(CHAT_OPS.requeueAnswer, requeue, () =>
      this.thenRetry(() => this.tier.hydrator.session(input.projectId, input.sessionId), requeue),
    );
  }

  listMessages(input: Parameters<ChatStore['listMessages']>[0]): Promise<MessagePage> {
    const { pg, hydrator } = this.tier;
    return this.read({
      op: CHAT_OPS.listMessages,
      redis: () => this.store.listMessages(input),
      pg: () => pg.listMessages(input),
      readThrough: () => hydrator.sessionThen(input.projectId, input.sessionId, this.store.listMessagesRead(input)),
    });
  }

  recentMessages(projectId: string, limit: number): Promise<MessageDTO[]> {
    const { redis, pg, hydrator } = this.tier;
    const op = CHAT_OPS.recentMessages;
    return this.read({
      op,
      redis: () => readRecent(redis, projectId, limit),
      pg: async () => ({ items: await pg.recentMessages(projectId, limit), missingSessions: [] }),
      repair: async (found) => {
        // Recent messages of sessions whose messages Redis does not hold (idle eviction, lost data):
        // bring them back; the last re-hydration's call reads the list again (no call of its own).
        const missing = found.missingSessions;
        if (missing.length === 0) return found;
        let repaired = false;
        let again: RecentRead | null = null;
        for (const [i, sid] of missing.entries()) {
          const read = i === missing.length - 1 ? recentCommand(redis, projectId, limit) : null;
          const back = await orElse(() => hydrator.sessionThen(projectId, sid, read), null);
          if (!back) continue;
          repaired = true;
          if (read) again = back.value;
        }
        if (!repaired) return found;
        metrics().cacheReads.inc({ op, result: 'read_through' });
        return again ?? readRecent(redis, projectId, limit);
      },
    }).then((found) => found.items);
  }
}

/**
 * appendMessage on Redis, re-hydrating the session first when Redis lost it - and its project, when
 * Redis lost that too (the replay after an outage is often the first thing to reach a Redis that
 * came back empty: it must bring the project back whole, not start it with one message).
 */
export async function appendWithReadThrough(
  redis: ChatStore,
  hydrator: Hydrator,
  input: AppendMessageInput,
  bound: (append: Promise<AppendResult>) => Promise<AppendResult> = (append) => append,
): Promise<AppendResult> {
  const first: { send?: StoreCommand<AppendResult> } = {};
  const append = async () => {
    first.send = await redis.appendMessageCommand(input);
    return first.send.run();
  };
  try {
    // `bound`: the send's failover deadline, over the whole first attempt (its preparation included).
    return await bound(append());
  } catch (err) {
    const prepared = first.send;
    if (!isNotFound(err) || !prepared) throw err;
    const through = await orElse(() => hydrator.forAppendThen(input.projectId, input.sessionId, prepared), null);
    if (!through) throw err;
    metrics().cacheReads.inc({ op: CHAT_OPS.appendMessage, result: 'read_through' });
    return through.value;
  }
}

/** How long sign-out waits for its direct PostgreSQL revocation (best effort) before answering. */
const REVOKE_DIRECT_TIMEOUT_MS = 500;

/** Failed sign-ins per username while Redis (and its throttle) is down: kept in this process. */
const FAILOVER_THROTTLE_WINDOW_MS = 15 * 60_000;

/**
 * Accounts and login sessions with the durable tier on: the Redis AuthService, plus accounts and
 * login sessions read through from PostgreSQL when Redis lost them, and sign-in and session checks
 * served by PostgreSQL while Redis is down. Sign-up and sign-out need Redis (sign-out also tells
 * PostgreSQL directly, so those session checks see it before the outbox consumer does).
 */
export class TieredAuthService extends Tiered implements AuthServiceApi {
  private readonly failoverFailures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly auth: AuthService,
    tier: TierDeps,
  ) {
    super(tier);
  }

  async signUp(username: string, password: string): Promise<UserDTO> {
    if (this.tier.breaker.allowsRedis()) {
      // Redis may have lost an account PostgreSQL has: bring it back first, so its name stays taken.
      await this.restoreAccount(username).catch(() => false);
    }
    return this.write(AUTH_OPS.signUp, () => this.auth.signUp(username, password));
  }

  async verifyCredentials(username: string, password: string, clientIp: string | null): Promise<UserDTO> {
    const { breaker } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        const user = await this.timed(AUTH_OPS.verifyCredentials, 'redis', async () => {
          // An account Redis lost is brought back first; then the sign-in is Redis's own (throttle included).
          if (await this.restoreAccount(username)) metrics().cacheReads.inc({ op: AUTH_OPS.verifyCredentials, result: 'read_through' });
          return this.auth.verifyCredentials(username, password, clientIp);
        });
        breaker.recordSuccess();
        return user;
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    return this.failover(AUTH_OPS.verifyCredentials, () => this.failoverSignIn(username, password, clientIp));
  }

  /**
   * Copies the account with this name from PostgreSQL when Redis has none. True when it did.
   * PostgreSQL down: nothing to copy (Redis's answer stands).
   */
  private async restoreAccount(username: string): Promise<boolean> {
    if (await this.auth.userRecordByName(username)) return false;
    const stored = await orElse(() => this.tier.pg.userByName(username), null);
    return stored ? this.tier.hydrator.user(stored) : false;
  }

  async startSession(user: AuthedUser): Promise<string> {
    const { breaker, pg } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        return await this.timed(AUTH_OPS.startSession, 'redis', () => this.auth.startSession(user));
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    // Redis is down: the login session goes to PostgreSQL; read-through brings it to Redis later.
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + LOGIN_SESSION_TTL_SECONDS * 1000);
    await this.timed(AUTH_OPS.startSession, 'postgres', () => pg.insertLoginSession(hashToken(token), user, expiresAt));
    return token;
  }

  /**
   * Redis first. Only a token Redis knows NOTHING about (no login, no sign-out tombstone) is looked
   * up in PostgreSQL and brought back (it was lost with Redis's data, or started while Redis was
   * down): a signed-out token's key holds a tombstone, so a revocation still on its way to
   * PostgreSQL through the outbox can never be undone by read-through.
   */
  async userForToken(token: string): Promise<AuthedUser | null> {
    const tokenHash = hashToken(token);
    const { pg, hydrator } = this.tier;
    const found = await this.read<LoginLookup>({
      op: AUTH_OPS.userForToken,
      redis: () => this.auth.lookupSession(token),
      pg: async () => {
        const stored = await pg.loginSession(tokenHash);
        return stored ? { state: 'live', user: { id: stored.userId, username: stored.username } } : { state: 'absent' };
      },
      repair: async (lookup) => {
        if (lookup.state !== 'absent') return lookup;
        const stored = await orElse(() => pg.loginSession(tokenHash), null);
        if (!stored) return lookup;
        // SET NX: a sign-out racing with this copy leaves its tombstone in place (and wins).
        if (!(await hydrator.loginSession(tokenHash, stored.userId, stored.username, stored.expiresAt))) {
          return this.auth.lookupSession(token);
        }
        metrics().cacheReads.inc({ op: AUTH_OPS.userForToken, result: 'read_through' });
        return { state: 'live', user: { id: stored.userId, username: stored.username } };
      },
    });
    return found.state === 'live' ? found.user : null;
  }

  /**
   * Sign-out: the login's Redis key becomes a tombstone, with the logout in the outbox, atomically.
   * When Redis has no key for the token, the login may still be live in PostgreSQL (lost with
   * Redis's data, or started while Redis was down): then it is tombstoned all the same, so a later
   * read-through cannot revive it before the revocation reaches PostgreSQL. An unknown token
   * stores nothing.
   *
   * Then the revocation is also written to PostgreSQL directly, best effort: until the consumer
   * persists the logout, PostgreSQL would still call the login live - and it answers the session
   * check while Redis is down, and read-through after Redis came back empty (tombstone and outbox
   * entry gone with it). That write waits at most REVOKE_DIRECT_TIMEOUT_MS and never fails the
   * sign-out: the outbox entry stays the guarantee.
   */
  async endSession(token: string): Promise<void> {
    const { pg } = this.tier;
    const revoked = await this.write(AUTH_OPS.endSession, async () => {
      const outcome = await this.auth.revokeSession(token);
      if (outcome !== 'absent') return true;
      // PostgreSQL down: we cannot tell, so tombstone it (it expires with the longest login life).
      const maybeLive = await orElse(async () => (await pg.loginSession(hashToken(token))) !== null, true);
      if (maybeLive) await this.auth.revokeSession(token, true);
      return maybeLive;
    });
    if (revoked) await this.revokeInPostgres(pg, hashToken(token));
  }

  private async revokeInPostgres(pg: PgStore, tokenHash: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const write = pg.revokeLoginSession(tokenHash, new Date());
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), REVOKE_DIRECT_TIMEOUT_MS);
    });
    try {
      if ((await Promise.race([write, timeout])) === 'timeout') {
        // It may still land; if not, the consumer writes the same revocation from the outbox.
        write.catch(() => undefined);
        log.warn({ timeoutMs: REVOKE_DIRECT_TIMEOUT_MS }, 'sign-out: direct PostgreSQL revocation timed out; the outbox delivers it');
      }
    } catch (err) {
      log.warn({ ...errorFields(err) }, 'sign-out: direct PostgreSQL revocation failed; the outbox delivers it');
    } finally {
      clearTimeout(timer);
    }
  }

  findByUsername(username: string): Promise<MemberDTO | null> {
    const { pg, hydrator } = this.tier;
    return this.read({
      op: AUTH_OPS.findByUsername,
      redis: () => this.auth.findByUsername(username),
      pg: async () => {
        const stored = await pg.userByName(username);
        return stored ? { id: stored.id, username: stored.username } : null;
      },
      repair: async (member) => {
        if (member) return member;
        const stored = await orElse(() => pg.userByName(username), null);
        if (!stored || !(await hydrator.user(stored))) return null;
        metrics().cacheReads.inc({ op: AUTH_OPS.findByUsername, result: 'read_through' });
        return { id: stored.id, username: stored.username };
      },
    });
  }

  usernames(ids: string[]): Promise<MemberDTO[]> {
    const { pg, hydrator } = this.tier;
    return this.read({
      op: AUTH_OPS.usernames,
      redis: () => this.auth.knownUsernames(ids),
      pg: async () => new Map((await pg.usersByIds(ids)).map((u) => [u.id, u.username])),
      repair: async (names) => {
        // Accounts Redis lost: bring them back from PostgreSQL.
        const unknown = ids.filter((id) => !names.has(id));
        if (unknown.length === 0) return names;
        const stored: UserRecord[] = await orElse(() => pg.usersByIds(unknown), []);
        for (const record of stored) {
          await hydrator.user(record);
          names.set(record.id, record.username);
        }
        return names;
      },
    }).then((names) => withNames(ids, names));
  }

  /** Sign-in while Redis is down: the same throttle (counted before checking), in this process. */
  private async failoverSignIn(username: string, password: string, clientIp: string | null): Promise<UserDTO> {
    const key = `${username.toLowerCase()} ${clientIp ?? 'local'}`;
    const now = Date.now();
    const previous = this.failoverFailures.get(key);
    const entry = previous && previous.resetAt > now ? previous : { count: 0, resetAt: now + FAILOVER_THROTTLE_WINDOW_MS };
    entry.count++;
    this.failoverFailures.set(key, entry);
    if (entry.count > SIGN_IN_MAX_FAILURES) {
      throw tooManyRequests('Too many failed sign-ins for this username; try again later', entry.resetAt - now);
    }
    try {
      const user = await checkPassword(await this.tier.pg.userByName(username), password);
      this.failoverFailures.delete(key);
      return user;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNAUTHORIZED')) entry.count--;
      throw err;
    }
  }

}
