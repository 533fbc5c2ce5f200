/**
 * Test harness: real services over the real redis-server the test run started (no mocks), and tRPC
 * callers acting as signed-in users. Every test works in fresh random projects, so tests never collide.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createServices, type Services } from '~/server/context';
import type { LimitsConfig } from '~/server/limits/rate-limits';
import { createRedis } from '~/server/redis/client';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { EventHub } from '~/server/realtime/hub';
import { createContextInner } from '~/server/trpc/init';
import { createCaller } from '~/server/trpc/root';
import type { MessageDTO } from '~/shared/types';

export function testRedisUrl(): string {
  return inject('redisUrl');
}

export interface Harness extends Services {
  /** Signs up a fresh user and returns a caller acting as them. */
  user(name?: string): Promise<TestUser>;
  /** Signs in an existing user (default password of user()) and returns a caller acting as them. */
  signIn(username: string, password?: string): Promise<TestUser>;
  anonymous(): ReturnType<typeof createCaller>;
  close(): Promise<void>;
}

export interface TestUser {
  id: string;
  username: string;
  token: string;
  caller: ReturnType<typeof createCaller>;
}

/** `limits`: abuse limits other than the environment's defaults (tests of a limit set it low). */
export function createHarness(url = testRedisUrl(), opts: { limits?: LimitsConfig } = {}): Harness {
  const redis: ScriptedRedis = createRedis(url);
  const hub = new EventHub(redis, () => createRedis(url));
  return harnessFor(createServices(redis, hub, null, opts.limits), async () => {
    await hub.close();
    redis.disconnect();
  });
}

/** A harness over services built elsewhere (e.g. with the durable tier: testing/durable.ts). */
export function harnessFor(services: Services, close: () => Promise<void>): Harness {
  const callerFor = (token: string | null) =>
    createCaller(createContextInner({ services, sessionToken: token }));
  const withCookie = async (
    call: (caller: ReturnType<typeof createCaller>) => Promise<{ id: string; username: string }>,
  ): Promise<TestUser> => {
    let token: string | null = null;
    const caller = createCaller(
      createContextInner({
        services,
        setCookie: (c) => {
          token = /parley_session=([^;]+)/.exec(c)?.[1] ?? null;
        },
      }),
    );
    const user = await call(caller);
    if (!token) throw new Error('no session cookie was set');
    return { id: user.id, username: user.username, token, caller: callerFor(decodeURIComponent(token)) };
  };
  return {
    ...services,
    user: (name = `u${randomUUID().slice(0, 8)}`) =>
      withCookie((c) => c.auth.signUp({ username: name, password: 'correct horse battery' })),
    signIn: (username, password = 'correct horse battery') =>
      withCookie((c) => c.auth.signIn({ username, password })),
    anonymous: () => callerFor(null),
    close,
  };
}

/**
 * The usual setup of a test file: one harness and one fresh user per name, made before the file's
 * tests and closed after them. Read the holder's fields inside tests and hooks (beforeAll fills them).
 */
export function useHarness<const Name extends string>(
  names: readonly Name[],
  opts: { limits?: LimitsConfig } = {},
): { h: Harness } & Record<Name, TestUser> {
  const env = {} as { h: Harness } & Record<Name, TestUser>;
  beforeAll(async () => {
    env.h = createHarness(testRedisUrl(), opts);
    for (const name of names) (env as Record<Name, TestUser>)[name] = await env.h.user();
  });
  afterAll(() => env.h.close());
  return env;
}

/**
 * A caller on `services` (e.g. another app process's) presenting `user`'s cookie, as the browser that
 * kept it would: the same login, wherever the request lands.
 */
export function callerWithCookieOf(services: Services, user: Pick<TestUser, 'token'>) {
  return createCaller(createContextInner({ services, sessionToken: decodeURIComponent(user.token) }));
}

/** Where a session is: what message.* procedures take. */
export interface SessionRef {
  projectId: string;
  sessionId: string;
}

/** Creates a project owned by `u` with one session in it (named `names`, or Launch / Kickoff). */
export async function projectWithSession(
  u: TestUser,
  names: { project?: string; session?: string } = {},
): Promise<SessionRef> {
  const project = await u.caller.project.create({ name: names.project ?? 'Launch' });
  const session = await u.caller.session.create({ projectId: project.id, title: names.session ?? 'Kickoff' });
  return { projectId: project.id, sessionId: session.id };
}

/** Every message of a session as `u` sees it, in seq order, read page by page (200 a page). */
export async function allMessages(u: TestUser, ref: SessionRef): Promise<MessageDTO[]> {
  const out: MessageDTO[] = [];
  let cursor: number | null = null;
  do {
    const page: { items: MessageDTO[]; nextCursor: number | null } = await u.caller.message.list({ ...ref, limit: 200, cursor });
    out.unshift(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

/**
 * Makes `member` a member of the project the way people do since invitations: `inviter` invites them
 * by name (project.addMember), they accept.
 */
export async function addToProject(inviter: TestUser, projectId: string, member: TestUser): Promise<void> {
  await inviter.caller.project.addMember({ projectId, username: member.username });
  await member.caller.project.acceptInvite({ projectId });
}
