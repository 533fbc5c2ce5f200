import 'server-only';
import { randomBytes } from 'node:crypto';
import {
  checkPassword,
  hashToken,
  LOGIN_SESSION_TTL_SECONDS,
  SIGN_IN_MAX_FAILURES,
  type AuthedUser,
  type AuthService,
  type AuthServiceApi,
  type LoginLookup,
  type UserRecord,
} from '~/server/auth/service';
import type { StoredMessage } from '~/server/chat/codec';
import type { AppendMessageInput, AppendResult, ChatStore, ChatStoreApi } from '~/server/chat/store';
import { AppError, isRedisUnavailable, projectNotFound, tooManyRequests } from '~/server/errors';
import { errorFields, logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import type {
  MemberDTO,
  MessageDTO,
  MessagePage,
  ProjectDTO,
  InvitationDTO,
  SessionDTO,
  SessionStatus,
  UserDTO,
} from '~/shared/types';
import type { RedisBreaker } from './breaker';
import type { Hydrator } from './hydrate';
import { PostgresUnavailableError } from './pg';
import type { PgStore } from './pg-store';

const log = logger('tiered');

/** What the facades need from the durable tier (absent: Redis alone, exactly as without the tier). */
export interface TierDeps {
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
  constructor(protected readonly tier: TierDeps | null) {}

  /**
   * `readThrough` runs when Redis says NOT_FOUND (re-hydrate, then read again); `repair` runs on a
   * Redis answer that may be incomplete because Redis lost data (an empty index, an unknown name) and
   * returns the corrected answer. Neither is under the failover deadline: a large re-hydration may
   * take longer than a read, and is not a sign that Redis is down.
   */
  protected async read<T>(
    op: string,
    viaRedis: () => Promise<T>,
    viaPg: () => Promise<T>,
    readThrough?: () => Promise<boolean>,
    repair?: (fromRedis: T, tier: TierDeps) => Promise<T>,
  ): Promise<T> {
    const m = metrics();
    if (!this.tier) return this.timed(op, 'redis', viaRedis);
    const { breaker, deadlineMs } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        const result = await this.timed(op, 'redis', () => withDeadline(viaRedis(), deadlineMs));
        breaker.recordSuccess();
        m.cacheReads.inc({ op, result: 'hit' });
        return repair ? await repair(result, this.tier) : result;
      } catch (err) {
        if (readThrough && isNotFound(err)) {
          try {
            if (await orElse(readThrough, false)) {
              m.cacheReads.inc({ op, result: 'read_through' });
              return await this.timed(op, 'redis', () => withDeadline(viaRedis(), deadlineMs));
            }
          } catch (again) {
            if (!isRedisDown(again)) throw again;
            breaker.recordFailure(again);
            return this.failover(op, viaPg);
          }
          m.cacheReads.inc({ op, result: 'miss' });
          throw err;
        }
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    return this.failover(op, viaPg);
  }

  protected async write<T>(op: string, viaRedis: () => Promise<T>, readThrough?: () => Promise<boolean>): Promise<T> {
    if (!this.tier) return this.timed(op, 'redis', viaRedis);
    const { breaker } = this.tier;
    if (!breaker.allowsRedis()) {
      throw new AppError('UNAVAILABLE', 'The chat store is recovering; please retry shortly');
    }
    try {
      const result = await this.timed(op, 'redis', viaRedis);
      breaker.recordSuccess();
      return result;
    } catch (err) {
      if (readThrough && isNotFound(err) && (await orElse(readThrough, false))) {
        metrics().cacheReads.inc({ op, result: 'read_through' });
        return this.timed(op, 'redis', viaRedis);
      }
      if (isRedisDown(err)) breaker.recordFailure(err);
      throw err;
    }
  }

  protected async failover<T>(op: string, viaPg: () => Promise<T>): Promise<T> {
    metrics().cacheReads.inc({ op, result: 'failover' });
    return this.timed(op, 'postgres', viaPg);
  }

  protected timed<T>(op: string, backend: 'redis' | 'postgres', fn: () => Promise<T>): Promise<T> {
    const end = metrics().storeOpDuration.startTimer({ op, backend });
    return fn().then(
      (result) => {
        end({ outcome: 'ok' });
        return result;
      },
      (err: unknown) => {
        end({ outcome: 'error' });
        throw err;
      },
    );
  }
}

/**
 * The chat store the app uses: the Redis ChatStore, plus (durable tier on) read-through from and
 * failover to PostgreSQL. Routers see the same API either way; with the tier off every call goes
 * straight to Redis, as before (only timed for the metrics).
 */
export class TieredChatStore extends Tiered implements ChatStoreApi {
  constructor(
    private readonly redis: ChatStore,
    tier: TierDeps | null,
  ) {
    super(tier);
  }

  createProject(input: { name: string; owner: { id: string; username: string } }): Promise<ProjectDTO> {
    return this.write('project.create', () => this.redis.createProject(input));
  }

  listProjectsFor(userId: string): Promise<ProjectDTO[]> {
    return this.read(
      'project.list',
      () => this.redis.readProjectsOf(userId),
      async () => ({ projects: await this.tier!.pg.listProjectsFor(userId), indexed: 0, missing: [] }),
      undefined,
      async (found, { hydrator }) => {
        // Redis lost the user's project index, or projects it names: re-hydrate, then read again.
        let repaired = false;
        if (found.indexed === 0 && (await orElse(() => hydrator.userProjects(userId), 0)) > 0) {
          found = await this.redis.readProjectsOf(userId);
          repaired = true;
        }
        if (found.missing.length > 0) {
          for (const pid of found.missing) await orElse(() => hydrator.project(pid), false);
          found = await this.redis.readProjectsOf(userId);
          repaired = true;
        }
        if (repaired) metrics().cacheReads.inc({ op: 'project.list', result: 'read_through' });
        return found;
      },
    ).then((found) => found.projects);
  }

  readProjectsOf(userId: string) {
    return this.read(
      'project.index',
      () => this.redis.readProjectsOf(userId),
      async () => ({ projects: await this.tier!.pg.listProjectsFor(userId), indexed: 0, missing: [] }),
    );
  }

  getProject(projectId: string): Promise<{ project: ProjectDTO; memberIds: string[] }> {
    return this.read(
      'project.get',
      () => this.redis.getProject(projectId),
      async () => {
        const found = await this.tier!.pg.getProject(projectId);
        if (!found) throw projectNotFound();
        return found;
      },
      () => this.tier!.hydrator.project(projectId),
    );
  }

  isMember(projectId: string, userId: string): Promise<boolean> {
    return this.read(
      'member.check',
      () => this.redis.isMember(projectId, userId),
      () => this.tier!.pg.isMember(projectId, userId),
      undefined,
      async (member, { pg, hydrator }) => {
        if (member) return true;
        // Redis says no. If PostgreSQL says yes, Redis lost the project (or this membership): bring
        // it back. PostgreSQL down: Redis's answer stands.
        if (!(await orElse(() => pg.isMember(projectId, userId), false))) return false;
        await orElse(() => hydrator.project(projectId), false);
        metrics().cacheReads.inc({ op: 'member.check', result: 'read_through' });
        return this.redis.isMember(projectId, userId);
      },
    );
  }

  addMember(projectId: string, member: MemberDTO): Promise<boolean> {
    return this.write('member.add', () => this.redis.addMember(projectId, member), () =>
      this.tier!.hydrator.project(projectId),
    );
  }

  // Invitations and leaving need Redis (writes; the invitation list lives only in Redis).
  invite(...args: Parameters<ChatStore['invite']>): ReturnType<ChatStore['invite']> {
    const [projectId] = args;
    return this.write('member.invite', () => this.redis.invite(...args), () => this.tier!.hydrator.project(projectId));
  }

  listInvitations(userId: string): Promise<InvitationDTO[]> {
    return this.write('member.invitations', () => this.redis.listInvitations(userId));
  }

  acceptInvite(...args: Parameters<ChatStore['acceptInvite']>): ReturnType<ChatStore['acceptInvite']> {
    return this.write('member.accept', () => this.redis.acceptInvite(...args));
  }

  declineInvite(projectId: string, userId: string): Promise<void> {
    return this.write('member.decline', () => this.redis.declineInvite(projectId, userId));
  }

  leaveProject(projectId: string, member: MemberDTO): Promise<void> {
    return this.write('member.leave', () => this.redis.leaveProject(projectId, member));
  }

  countProjectsOf(userId: string): Promise<number> {
    return this.write('project.count', () => this.redis.countProjectsOf(userId));
  }

  createSession(input: {
    projectId: string;
    title: string;
    description?: string | undefined;
    createdBy: string;
  }): Promise<SessionDTO> {
    return this.write('session.create', () => this.redis.createSession(input));
  }

  getSession(projectId: string, sessionId: string): Promise<SessionDTO> {
    return this.read(
      'session.get',
      () => this.redis.getSession(projectId, sessionId),
      async () => {
        const found = await this.tier!.pg.getSession(projectId, sessionId);
        if (!found) {
          throw new AppError('UNAVAILABLE', 'This session is not available until the chat store is back; please retry shortly');
        }
        return found;
      },
      () => this.tier!.hydrator.session(projectId, sessionId),
    );
  }

  listSessions(projectId: string, limit = 500): Promise<SessionDTO[]> {
    return this.read(
      'session.list',
      () => this.redis.readSessions(projectId, limit),
      async () => ({ sessions: await this.tier!.pg.listSessions(projectId, limit), missing: [] }),
      undefined,
      async (found, { hydrator }) => {
        // Sessions the index names but Redis does not hold (lost data; idle eviction keeps records): bring them back.
        if (found.missing.length === 0) return found;
        let repaired = false;
        for (const sid of found.missing) repaired = (await orElse(() => hydrator.session(projectId, sid), false)) || repaired;
        if (!repaired) return found;
        metrics().cacheReads.inc({ op: 'session.list', result: 'read_through' });
        return this.redis.readSessions(projectId, limit);
      },
    ).then((found) => found.sessions);
  }

  readSessions(projectId: string, limit = 500) {
    return this.read(
      'session.index',
      () => this.redis.readSessions(projectId, limit),
      async () => ({ sessions: await this.tier!.pg.listSessions(projectId, limit), missing: [] }),
    );
  }

  updateSession(input: {
    projectId: string;
    sessionId: string;
    title?: string | undefined;
    description?: string | undefined;
    status?: SessionStatus | undefined;
    metadata?: Record<string, unknown> | undefined;
  }): Promise<SessionDTO> {
    return this.write('session.update', () => this.redis.updateSession(input), () =>
      this.tier!.hydrator.session(input.projectId, input.sessionId),
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
    if (!this.tier) return this.timed('message.send', 'redis', () => this.redis.appendMessage(input));
    const { breaker, deadlineMs, pg } = this.tier;
    // Reconciling: wait a moment for the close, so this send gets its seq after the replayed ones.
    if (breaker.state === 'half_open') await breaker.whenClosed(deadlineMs);
    if (breaker.allowsRedis()) {
      try {
        const send = () => this.timed('message.send', 'redis', () => withDeadline(this.redis.appendMessage(input), deadlineMs));
        let result: AppendResult;
        try {
          result = await send();
        } catch (err) {
          // The session is not in Redis: lost with Redis's data? Re-hydrate it (no deadline), retry.
          if (!isNotFound(err) || !(await orElse(() => this.tier!.hydrator.forAppend(input.projectId, input.sessionId), false))) {
            throw err;
          }
          metrics().cacheReads.inc({ op: 'message.send', result: 'read_through' });
          result = await send();
        }
        breaker.recordSuccess();
        return result;
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    const message = await this.timed('message.send', 'postgres', () => pg.appendPending(input));
    metrics().failoverSends.inc();
    log.info({ projectId: input.projectId, sessionId: input.sessionId, messageId: input.id }, 'send kept in PostgreSQL while Redis is down');
    return { message, created: true, eventId: null, outboxId: null };
  }

  changeMessage(
    ref: { projectId: string; sessionId: string; id: string },
    eventType: 'message.updated' | 'message.deleted',
    change: (current: StoredMessage) => StoredMessage,
  ): Promise<MessageDTO> {
    return this.write('message.change', () => this.redis.changeMessage(ref, eventType, change), () =>
      this.tier!.hydrator.session(ref.projectId, ref.sessionId),
    );
  }

  listMessages(input: {
    projectId: string;
    sessionId: string;
    limit: number;
    cursor?: number | null | undefined;
  }): Promise<MessagePage> {
    return this.read(
      'message.list',
      () => this.redis.listMessages(input),
      () => this.tier!.pg.listMessages(input),
      () => this.tier!.hydrator.session(input.projectId, input.sessionId),
    );
  }

  recentMessages(projectId: string, limit: number): Promise<MessageDTO[]> {
    return this.read(
      'message.recent',
      () => this.redis.readRecent(projectId, limit),
      async () => ({ items: await this.tier!.pg.recentMessages(projectId, limit), missingSessions: [] }),
      undefined,
      async (found, { hydrator }) => {
        // Recent messages of sessions whose messages Redis does not hold (idle eviction, lost data): bring them back.
        if (found.missingSessions.length === 0) return found;
        let repaired = false;
        for (const sid of found.missingSessions) repaired = (await orElse(() => hydrator.session(projectId, sid), false)) || repaired;
        if (!repaired) return found;
        metrics().cacheReads.inc({ op: 'message.recent', result: 'read_through' });
        return this.redis.readRecent(projectId, limit);
      },
    ).then((found) => found.items);
  }

  readRecent(projectId: string, limit: number) {
    return this.read(
      'message.recent',
      () => this.redis.readRecent(projectId, limit),
      async () => ({ items: await this.tier!.pg.recentMessages(projectId, limit), missingSessions: [] }),
    );
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
): Promise<AppendResult> {
  try {
    return await redis.appendMessage(input);
  } catch (err) {
    if (!isNotFound(err) || !(await orElse(() => hydrator.forAppend(input.projectId, input.sessionId), false))) throw err;
    metrics().cacheReads.inc({ op: 'message.send', result: 'read_through' });
    return redis.appendMessage(input);
  }
}

/** How long sign-out waits for its direct PostgreSQL revocation (best effort) before answering. */
const REVOKE_DIRECT_TIMEOUT_MS = 500;

/** Failed sign-ins per username while Redis (and its throttle) is down: kept in this process. */
const FAILOVER_THROTTLE_WINDOW_MS = 15 * 60_000;

/**
 * Accounts and login sessions: the Redis AuthService, plus (durable tier on) accounts and login
 * sessions read through from PostgreSQL when Redis lost them, and sign-in and session checks served
 * by PostgreSQL while Redis is down. Sign-up and sign-out need Redis (sign-out also tells PostgreSQL
 * directly, so those session checks see it before the outbox consumer does).
 */
export class TieredAuthService extends Tiered implements AuthServiceApi {
  private readonly failoverFailures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly auth: AuthService,
    tier: TierDeps | null,
  ) {
    super(tier);
  }

  async signUp(username: string, password: string): Promise<UserDTO> {
    if (this.tier?.breaker.allowsRedis()) {
      // Redis may have lost an account PostgreSQL has: bring it back first, so its name stays taken.
      const { pg, hydrator } = this.tier;
      const known = await this.auth.userRecordByName(username).catch(() => null);
      if (!known) {
        const stored = await orElse(() => pg.userByName(username), null);
        if (stored) await hydrator.user(stored);
      }
    }
    return this.write('auth.signUp', () => this.auth.signUp(username, password));
  }

  async verifyCredentials(username: string, password: string, clientIp: string | null): Promise<UserDTO> {
    if (!this.tier) {
      return this.timed('auth.signIn', 'redis', () => this.auth.verifyCredentials(username, password, clientIp));
    }
    const { breaker, pg, hydrator } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        const user = await this.timed('auth.signIn', 'redis', () =>
          this.auth.verifyCredentials(username, password, clientIp, async (name) => {
            const record = await this.auth.userRecordByName(name);
            if (record) return record;
            const stored = await orElse(() => pg.userByName(name), null);
            if (stored && (await hydrator.user(stored))) {
              metrics().cacheReads.inc({ op: 'auth.signIn', result: 'read_through' });
            }
            return stored;
          }),
        );
        breaker.recordSuccess();
        return user;
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    return this.failover('auth.signIn', () => this.failoverSignIn(username, password, clientIp));
  }

  async startSession(user: AuthedUser): Promise<string> {
    if (!this.tier) return this.timed('auth.startSession', 'redis', () => this.auth.startSession(user));
    const { breaker, pg } = this.tier;
    if (breaker.allowsRedis()) {
      try {
        return await this.timed('auth.startSession', 'redis', () => this.auth.startSession(user));
      } catch (err) {
        if (!isRedisDown(err)) throw err;
        breaker.recordFailure(err);
      }
    }
    // Redis is down: the login session goes to PostgreSQL; read-through brings it to Redis later.
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + LOGIN_SESSION_TTL_SECONDS * 1000);
    await this.timed('auth.startSession', 'postgres', () => pg.insertLoginSession(hashToken(token), user, expiresAt));
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
    const found = await this.read<LoginLookup>(
      'auth.session',
      () => this.auth.lookupSession(token),
      async () => {
        const stored = await this.tier!.pg.loginSession(tokenHash);
        return stored ? { state: 'live', user: { id: stored.userId, username: stored.username } } : { state: 'absent' };
      },
      undefined,
      async (lookup, { pg, hydrator }) => {
        if (lookup.state !== 'absent') return lookup;
        const stored = await orElse(() => pg.loginSession(tokenHash), null);
        if (!stored) return lookup;
        // SET NX: a sign-out racing with this copy leaves its tombstone in place (and wins).
        if (!(await hydrator.loginSession(tokenHash, stored.userId, stored.username, stored.expiresAt))) {
          return this.auth.lookupSession(token);
        }
        metrics().cacheReads.inc({ op: 'auth.session', result: 'read_through' });
        return { state: 'live', user: { id: stored.userId, username: stored.username } };
      },
    );
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
    const revoked = await this.write('auth.signOut', async () => {
      const outcome = await this.auth.revokeSession(token);
      if (outcome !== 'absent' || !this.tier) return outcome !== 'absent';
      const { pg } = this.tier;
      // PostgreSQL down: we cannot tell, so tombstone it (it expires with the longest login life).
      const maybeLive = await orElse(async () => (await pg.loginSession(hashToken(token))) !== null, true);
      if (maybeLive) await this.auth.revokeSession(token, true);
      return maybeLive;
    });
    if (revoked && this.tier) await this.revokeInPostgres(this.tier.pg, hashToken(token));
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
    return this.read(
      'auth.findUser',
      () => this.auth.findByUsername(username),
      async () => {
        const stored = await this.tier!.pg.userByName(username);
        return stored ? { id: stored.id, username: stored.username } : null;
      },
      undefined,
      async (member, { pg, hydrator }) => {
        if (member) return member;
        const stored = await orElse(() => pg.userByName(username), null);
        if (!stored || !(await hydrator.user(stored))) return null;
        metrics().cacheReads.inc({ op: 'auth.findUser', result: 'read_through' });
        return { id: stored.id, username: stored.username };
      },
    );
  }

  usernames(ids: string[]): Promise<MemberDTO[]> {
    return this.read(
      'auth.usernames',
      () => this.auth.usernames(ids),
      () => this.tier!.pg.usernames(ids),
      undefined,
      async (members, { pg, hydrator }) => {
        const unknown = members.filter((m) => m.username === '(unknown)').map((m) => m.id);
        if (unknown.length === 0) return members;
        const stored: UserRecord[] = await orElse(() => pg.usersByIds(unknown), []);
        for (const record of stored) await hydrator.user(record);
        const names = new Map(stored.map((u) => [u.id, u.username]));
        return members.map((m) => ({ id: m.id, username: names.get(m.id) ?? m.username }));
      },
    );
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
      const user = await checkPassword(await this.tier!.pg.userByName(username), password);
      this.failoverFailures.delete(key);
      return user;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNAUTHORIZED')) entry.count--;
      throw err;
    }
  }

}
