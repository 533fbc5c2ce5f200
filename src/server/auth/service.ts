import 'server-only';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { env } from '~/server/env';
import { AppError, tooManyRequests, toAppError } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import type { MemberDTO, UserDTO } from '~/shared/types';

/**
 * Sign-in attempts per username from one client IP that may fail within the window; beyond it that
 * username + IP pair waits for the window to pass. Keyed with the IP so a stranger guessing from
 * elsewhere cannot lock the owner out (the per-IP rate limit bounds guesses across usernames).
 */
export const SIGN_IN_MAX_FAILURES = env.SIGN_IN_MAX_FAILURES;
export const SIGN_IN_FAILURE_WINDOW_SECONDS = 15 * 60;

/** Login sessions expire (chat data never does). */
export const LOGIN_SESSION_TTL_SECONDS = 30 * 24 * 3600;

/**
 * What a signed-out login's key holds until the login would have expired (plus a margin): a
 * revocation tombstone, so "signed out" is never mistaken for "Redis lost it" (which the durable
 * tier reads through from PostgreSQL). It has no space, so it never parses as "<uid> <username>".
 */
export const LOGIN_REVOKED = '!revoked';
/** How long a tombstone outlives the login it revokes. */
const LOGIN_TOMBSTONE_MARGIN_MS = 60_000;

/** What Redis says about a login token. */
export type LoginLookup = { state: 'live'; user: AuthedUser } | { state: 'revoked' } | { state: 'absent' };

// Algorithm.Argon2id; the package exports it as an ambient const enum, which verbatimModuleSyntax forbids.
const ARGON2 = { algorithm: 2 } as const;
// Verified when the username does not exist, so a miss costs as long as a wrong password (no username
// probing by timing).
const DUMMY_HASH_PROMISE = hash('parley-dummy-password', ARGON2);

export interface AuthedUser {
  id: string;
  username: string;
}

/** A stored account, as Redis and PostgreSQL both hold it. */
export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: string;
}

/** The service's public surface: what routers use, and what the durable tier's facade implements too. */
export type AuthServiceApi = Pick<
  AuthService,
  'signUp' | 'verifyCredentials' | 'startSession' | 'userForToken' | 'endSession' | 'findByUsername' | 'usernames'
>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

async function run<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}

/**
 * Accounts and login sessions. Usernames are unique case-insensitively; passwords are argon2id.
 *
 * With the durable tier on (`outboxKey` set), sign-up, sign-in and sign-out are scripts that also
 * append the account or login session to the outbox, so PostgreSQL gets them (a Redis that comes back
 * empty loses no account). Those scripts span the user, username and outbox keys: standalone Redis.
 */
export class AuthService {
  private readonly outboxKey: string | null;

  constructor(
    private readonly redis: ScriptedRedis,
    opts: { outboxKey?: string | null } = {},
  ) {
    this.outboxKey = opts.outboxKey ?? null;
  }

  async signUp(username: string, password: string): Promise<UserDTO> {
    const user: UserDTO = { id: randomUUID(), username, createdAt: new Date().toISOString() };
    const passwordHash = await hash(password, ARGON2);
    if (this.outboxKey) {
      const record: UserRecord = { ...user, passwordHash };
      const outbox = this.outboxKey;
      const claimed = await run(() => scripts.signUp.run(this.redis, { record: { ...record }, outbox }));
      if (!claimed) throw new AppError('CONFLICT', 'That username is taken');
      return user;
    }
    // The record first, then the unique name: a crash in between leaves an unreachable record, never a
    // name that points at nothing.
    await run(() => this.redis.hset(keys.user(user.id), { ...user, passwordHash }));
    const claimed = await run(() => this.redis.set(keys.username(username), user.id, 'NX'));
    if (claimed !== 'OK') {
      await run(() => this.redis.del(keys.user(user.id)));
      throw new AppError('CONFLICT', 'That username is taken');
    }
    return user;
  }

  /**
   * Returns the user when the password matches, else throws UNAUTHORIZED (same for unknown names).
   * `findRecord` defaults to the Redis lookup; the durable tier passes one that reads through to
   * PostgreSQL when Redis lost the account.
   *
   * The attempt is counted (INCR, atomically) BEFORE the password is checked and the count decides:
   * 40 concurrent guesses get counts 1..40 and all beyond SIGN_IN_MAX_FAILURES are refused unchecked.
   * A success clears the count; a failure leaves it counted; an outage gives the attempt back.
   */
  async verifyCredentials(
    username: string,
    password: string,
    clientIp: string | null,
    findRecord: (username: string) => Promise<UserRecord | null> = (name) => this.userRecordByName(name),
  ): Promise<UserDTO> {
    const failuresKey = keys.signInFailures(username, clientIp ?? 'local');
    const counted = await run(() =>
      this.redis.multi().incr(failuresKey).expire(failuresKey, SIGN_IN_FAILURE_WINDOW_SECONDS, 'NX').pttl(failuresKey).exec(),
    );
    const [[incrErr, attempts], , [, ttlMs]] = counted as [[Error | null, number], unknown, [Error | null, number]];
    if (incrErr) throw toAppError(incrErr);
    if (attempts > SIGN_IN_MAX_FAILURES) {
      throw tooManyRequests('Too many failed sign-ins for this username; try again later', ttlMs > 0 ? ttlMs : 1000);
    }
    let user: UserDTO;
    try {
      user = await checkPassword(await findRecord(username), password);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNAUTHORIZED')) {
        await this.redis.decr(failuresKey).catch(() => undefined);
      }
      throw err;
    }
    await run(() => this.redis.del(failuresKey));
    return user;
  }

  /** The stored account with this username (case-insensitive), or null. */
  async userRecordByName(username: string): Promise<UserRecord | null> {
    const uid = await run(() => this.redis.get(keys.username(username)));
    if (!uid) return null;
    const record = await run(() => this.redis.hgetall(keys.user(uid)));
    if (!record.id || !record.passwordHash) return null;
    return {
      id: record.id,
      username: record.username ?? username,
      passwordHash: record.passwordHash,
      createdAt: record.createdAt ?? '',
    };
  }

  /** Starts a login session; returns the token for the cookie (only its hash is stored). */
  async startSession(user: AuthedUser): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hashToken(token);
    const value = `${user.id} ${user.username}`;
    if (this.outboxKey) {
      const expiresAt = Date.now() + LOGIN_SESSION_TTL_SECONDS * 1000;
      const outbox = this.outboxKey;
      await run(() =>
        scripts.startLogin.run(this.redis, {
          tokenHash,
          value,
          ttlSeconds: LOGIN_SESSION_TTL_SECONDS,
          userId: user.id,
          username: user.username,
          expiresAt,
          outbox,
        }),
      );
      return token;
    }
    await run(() => this.redis.set(keys.loginSession(tokenHash), value, 'EX', LOGIN_SESSION_TTL_SECONDS));
    return token;
  }

  /** The user a session token belongs to, or null when it is unknown, expired or signed out. */
  async userForToken(token: string): Promise<AuthedUser | null> {
    const found = await this.lookupSession(token);
    return found.state === 'live' ? found.user : null;
  }

  /** What Redis holds for a token: a live login, a sign-out tombstone, or nothing. One round trip. */
  async lookupSession(token: string): Promise<LoginLookup> {
    const value = await run(() => this.redis.get(keys.loginSession(hashToken(token))));
    if (value === null) return { state: 'absent' };
    const space = value.indexOf(' ');
    if (value === LOGIN_REVOKED || space <= 0) return { state: 'revoked' };
    return { state: 'live', user: { id: value.slice(0, space), username: value.slice(space + 1) } };
  }

  async endSession(token: string): Promise<void> {
    await this.revokeSession(token);
  }

  /**
   * Signs a token out: its key becomes a revocation tombstone (with the outbox entry, tier on), in one
   * script. An absent key stays absent unless `evenIfAbsent` (the durable tier passes it when
   * PostgreSQL may hold the login live). Returns what was there.
   */
  async revokeSession(token: string, evenIfAbsent = false): Promise<'revoked' | 'absent' | 'already_revoked'> {
    const tokenHash = hashToken(token);
    const result = await run(() =>
      scripts.endLogin.run(this.redis, {
        tokenHash,
        now: Date.now(),
        tombstone: LOGIN_REVOKED,
        marginMs: LOGIN_TOMBSTONE_MARGIN_MS,
        absentTtlMs: LOGIN_SESSION_TTL_SECONDS * 1000 + LOGIN_TOMBSTONE_MARGIN_MS,
        evenIfAbsent,
        outbox: this.outboxKey,
      }),
    );
    // Every process ends the streams this login holds open (EventHub.watchLogin). Best effort: a
    // stream that misses it is refused at its next reconnect, which checks the login.
    if (result === 'revoked') await this.redis.publish(keys.loginRevoked, tokenHash).catch(() => undefined);
    return result;
  }

  async findByUsername(username: string): Promise<MemberDTO | null> {
    const uid = await run(() => this.redis.get(keys.username(username)));
    if (!uid) return null;
    const name = await run(() => this.redis.hget(keys.user(uid), 'username'));
    return name ? { id: uid, username: name } : null;
  }

  async usernames(ids: string[]): Promise<MemberDTO[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(keys.user(id), 'username');
    const results = (await run(() => pipeline.exec())) ?? [];
    return ids.map((id, i) => {
      const [err, name] = results[i] ?? [null, null];
      if (err) throw toAppError(err);
      return { id, username: typeof name === 'string' ? name : '(unknown)' };
    });
  }
}

/**
 * Checks a password against a stored account (or against a dummy hash when there is none, so an
 * unknown username costs as long as a wrong password). Throws UNAUTHORIZED on a mismatch.
 */
export async function checkPassword(record: UserRecord | null, password: string): Promise<UserDTO> {
  const ok = await verify(record?.passwordHash ?? (await DUMMY_HASH_PROMISE), password);
  if (!record || !ok) throw new AppError('UNAUTHORIZED', 'Wrong username or password');
  return { id: record.id, username: record.username, createdAt: record.createdAt };
}
