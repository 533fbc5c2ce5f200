import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TestUser } from '~/server/testing/harness';
import { SIGN_IN_MAX_FAILURES } from '~/server/auth/service';
import { keys } from '~/server/redis/keys';
import { appRouter } from './root';

let h: Harness;
let owner: TestUser;
let stranger: TestUser;
let projectId: string;
let sessionId: string;
let messageId: string;

beforeAll(async () => {
  h = createHarness();
  owner = await h.user();
  stranger = await h.user();
  projectId = (await owner.caller.project.create({ name: 'Secret plans' })).id;
  sessionId = (await owner.caller.session.create({ projectId, title: 'Private' })).id;
  messageId = (await owner.caller.message.send({ projectId, sessionId, id: randomUUID(), content: 'classified' })).id;
});
afterAll(() => h.close());

type Call = (u: TestUser) => Promise<unknown>;
type ScopedCall = (u: TestUser, pid: string) => Promise<unknown>;

/** Every procedure that names a project, called as a given user on a given project. */
const projectScoped: Record<string, ScopedCall> = {
  'project.get': (u, pid) => u.caller.project.get({ projectId: pid }),
  'project.addMember': (u, pid) => u.caller.project.addMember({ projectId: pid, username: u.username }),
  'project.leave': (u, pid) => u.caller.project.leave({ projectId: pid }),
  // Without an invitation, exactly like a project that does not exist.
  'project.acceptInvite': (u, pid) => u.caller.project.acceptInvite({ projectId: pid }),
  'project.heartbeat': (u, pid) => u.caller.project.heartbeat({ projectId: pid, state: 'active' }),
  'project.presence': (u, pid) => u.caller.project.presence({ projectId: pid }),
  'session.list': (u, pid) => u.caller.session.list({ projectId: pid }),
  'session.create': (u, pid) => u.caller.session.create({ projectId: pid, title: 'Intrusion' }),
  'session.get': (u, pid) => u.caller.session.get({ projectId: pid, sessionId }),
  'session.update': (u, pid) => u.caller.session.update({ projectId: pid, sessionId, title: 'Hijacked' }),
  'session.markRead': (u, pid) => u.caller.session.markRead({ projectId: pid, sessionId, seq: 1 }),
  'session.readMarkers': (u, pid) => u.caller.session.readMarkers({ projectId: pid }),
  'session.mentions': (u, pid) => u.caller.session.mentions({ projectId: pid }),
  'session.typing': (u, pid) => u.caller.session.typing({ projectId: pid, sessionId, typing: true }),
  'message.list': (u, pid) => u.caller.message.list({ projectId: pid, sessionId }),
  'message.send': (u, pid) =>
    u.caller.message.send({ projectId: pid, sessionId, id: randomUUID(), content: 'hi' }),
  'message.edit': (u, pid) => u.caller.message.edit({ projectId: pid, sessionId, id: messageId, content: 'x' }),
  'message.delete': (u, pid) => u.caller.message.delete({ projectId: pid, sessionId, id: messageId }),
  'message.react': (u, pid) => u.caller.message.react({ projectId: pid, sessionId, id: messageId, emoji: '👍' }),
  'message.search': (u, pid) => u.caller.message.search({ projectId: pid, query: 'classified' }),
  'message.stopGeneration': (u, pid) => u.caller.message.stopGeneration({ projectId: pid, sessionId, id: messageId }),
  'message.retry': (u, pid) => u.caller.message.retry({ projectId: pid, sessionId, id: messageId }),
  'message.verify': (u, pid) => u.caller.message.verify({ projectId: pid, sessionId, id: messageId }),
  'chat.history': (u, pid) => u.caller.chat.history({ projectId: pid, limit: 10 }),
  'legacy.importLocal': (u, pid) =>
    u.caller.legacy.importLocal({
      projectId: pid,
      legacySessionId: 'old',
      messages: [{ id: randomUUID(), content: 'old', role: 'user', createdAt: new Date().toISOString() }],
    }),
  'events.subscribe': async (u, pid) => {
    const it = await u.caller.events.subscribe({ projectId: pid });
    for await (const ev of it) return ev;
  },
};

describe('membership', () => {
  it('covers every project-scoped procedure in the router', () => {
    const all = Object.keys(appRouter._def.procedures).filter(
      // Not about one project: the caller's own lists, creating, and declining (a no-op without an invitation).
      (p) =>
        !p.startsWith('auth.') &&
        ![
          'project.list',
          'project.unreadTotals',
          'events.unread',
          'project.create',
          'project.invitations',
          'project.declineInvite',
        ].includes(p),
    );
    expect(Object.keys(projectScoped).sort()).toEqual(all.sort());
  });

  for (const [name, call] of Object.entries(projectScoped)) {
    it(`${name}: a non-member gets NOT_FOUND, as for a project that does not exist`, async () => {
      const refusal = { code: 'NOT_FOUND', message: 'Project not found' };
      await expect(call(stranger, projectId)).rejects.toMatchObject(refusal);
      // The very same answer for a project id that exists nowhere.
      await expect(call(stranger, randomUUID())).rejects.toMatchObject(refusal);
    });
  }

  it('a signed-out caller gets UNAUTHORIZED everywhere but auth', async () => {
    const anon = h.anonymous();
    await expect(anon.project.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(anon.message.list({ projectId, sessionId })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await anon.auth.me()).toBeNull();
  });

  it('the stranger sees none of it in their own lists, and gains access once they accept an invitation', async () => {
    expect(await stranger.caller.project.list()).toEqual([]);
    const invited = await owner.caller.project.addMember({ projectId, username: stranger.username.toUpperCase() });
    expect(invited).toEqual({ status: 'invited' });
    // An invitation is not a membership.
    expect(await stranger.caller.project.list()).toEqual([]);
    await expect(stranger.caller.project.get({ projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await stranger.caller.project.invitations()).toMatchObject([
      { projectId, projectName: 'Secret plans', inviterName: owner.username },
    ]);
    expect(await stranger.caller.project.acceptInvite({ projectId })).toEqual({ joined: true });
    expect(await stranger.caller.project.invitations()).toEqual([]);
    expect((await stranger.caller.project.list()).map((p) => p.id)).toEqual([projectId]);
    const page = await stranger.caller.message.list({ projectId, sessionId });
    expect(page.items.map((m) => m.content)).toEqual(['classified']);
    const detail = await stranger.caller.project.get({ projectId });
    expect(detail.members.map((m) => m.id).sort()).toEqual([owner.id, stranger.id].sort());
    // Inviting a member again is a no-op, not an error.
    expect(await owner.caller.project.addMember({ projectId, username: stranger.username })).toEqual({
      status: 'already_member',
    });
  });

  it('answers the same for an unknown username as for a known one (issue 14 item 11b)', async () => {
    const known = await h.user();
    const forKnown = await owner.caller.project.addMember({ projectId, username: known.username });
    const forUnknown = await owner.caller.project.addMember({ projectId, username: `nobody_${randomUUID().slice(0, 8)}` });
    expect(forUnknown).toEqual(forKnown);
    expect(forKnown).toEqual({ status: 'invited' });
  });
});

describe('accounts', () => {
  it('usernames are unique case-insensitively and passwords are checked', async () => {
    const name = `Case${randomUUID().slice(0, 6)}`;
    await h.user(name);
    await expect(h.user(name.toLowerCase())).rejects.toMatchObject({ code: 'CONFLICT' });
    const anon = h.anonymous();
    await expect(anon.auth.signIn({ username: name, password: 'wrong password!' })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'Wrong username or password',
    });
    await expect(anon.auth.signIn({ username: 'no_such_user', password: 'whatever123' })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'Wrong username or password',
    });
    expect(await anon.auth.signIn({ username: name, password: 'correct horse battery' })).toMatchObject({
      username: name,
    });
  });

  it('throttles repeated failed sign-ins for a username', async () => {
    const u = await h.user();
    const anon = h.anonymous();
    for (let i = 0; i < SIGN_IN_MAX_FAILURES; i++) {
      await expect(anon.auth.signIn({ username: u.username, password: 'guess guess' })).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      });
    }
    // Now even the right password is refused from here until the window passes (from elsewhere it
    // works: see limits.integration.test.ts).
    await expect(
      anon.auth.signIn({ username: u.username, password: 'correct horse battery' }),
    ).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(await h.redis.ttl(keys.signInFailures(u.username, 'local'))).toBeGreaterThan(0);
  });

  it('signing out ends the login session, and the stored token is only a hash', async () => {
    const u = await h.user();
    expect(await u.caller.auth.me()).toMatchObject({ id: u.id });
    const raw = await h.redis.keys('auth:session:*');
    expect(raw.some((k) => k.includes(u.token))).toBe(false);
    await u.caller.auth.signOut();
    expect(await u.caller.auth.me()).toBeNull();
    await expect(u.caller.project.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe('bad input gets a 4xx with a clear message, never a truncation', () => {
  const cases: [string, Call, RegExp][] = [
    ['content over the limit', (u) => u.caller.message.send({ projectId, sessionId, id: randomUUID(), content: 'x'.repeat(8001) }), /at most 8000/],
    ['blank content', (u) => u.caller.message.send({ projectId, sessionId, id: randomUUID(), content: '  \n ' }), /must not be empty/],
    ['a message id that is not a UUID', (u) => u.caller.message.send({ projectId, sessionId, id: 'abc', content: 'hi' }), /UUID/],
    ['a project id that is not a UUID', (u) => u.caller.session.list({ projectId: '../../etc' }), /UUID/],
    ['a page size over the maximum', (u) => u.caller.message.list({ projectId, sessionId, limit: 10_000 }), /at most 200/],
    ['a page size of zero', (u) => u.caller.message.list({ projectId, sessionId, limit: 0 }), /at least 1/],
    ['a negative cursor', (u) => u.caller.message.list({ projectId, sessionId, cursor: -5 }), /./],
    ['an empty title', (u) => u.caller.session.create({ projectId, title: '   ' }), /must not be empty/],
    ['a title over the limit', (u) => u.caller.session.create({ projectId, title: 't'.repeat(201) }), /at most 200/],
    ['an update with nothing to change', (u) => u.caller.session.update({ projectId, sessionId }), /Nothing to update/],
    ['an unknown status', (u) => u.caller.session.update({ projectId, sessionId, status: 'deleted' as 'active' }), /./],
    ['a project name over the limit', (u) => u.caller.project.create({ name: 'n'.repeat(101) }), /at most 100/],
    ['a NUL character in a message', (u) => u.caller.message.send({ projectId, sessionId, id: randomUUID(), content: 'nul \u0000 inside' }), /NUL/],
    ['a lone surrogate in a message', (u) => u.caller.message.send({ projectId, sessionId, id: randomUUID(), content: 'lone \ud800 surrogate' }), /broken Unicode/],
    ['a NUL character in a title', (u) => u.caller.session.create({ projectId, title: 't\u0000itle' }), /NUL/],
    ['a lastEventId beyond 64 bits', (u) => u.caller.events.subscribe({ projectId, lastEventId: '0-99999999999999999999' }), /event id/],
    ['a malformed lastEventId', (u) => u.caller.events.subscribe({ projectId, lastEventId: 'yesterday' }), /event id/],
  ];
  for (const [name, call, message] of cases) {
    it(name, async () => {
      const err = await call(owner).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'BAD_REQUEST' });
      expect((err as Error).message).toMatch(message);
    });
  }

  it('short usernames and passwords are refused at sign-up', async () => {
    await expect(h.anonymous().auth.signUp({ username: 'ab', password: 'long enough' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(h.anonymous().auth.signUp({ username: 'abcdef', password: 'short' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('content of exactly the maximum is stored whole', async () => {
    const content = 'y'.repeat(8000);
    const m = await owner.caller.message.send({ projectId, sessionId, id: randomUUID(), content });
    expect(m.content).toBe(content);
  });
});
