import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToProject, createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';

let h: Harness;
let ada: TestUser;
let bob: TestUser;
let cy: TestUser;

beforeAll(async () => {
  h = createHarness();
  ada = await h.user();
  bob = await h.user();
  // Signed up, never a member of the projects below.
  cy = await h.user();
});
afterAll(() => h.close());

type Ref = { projectId: string; sessionId: string };
const send = (ref: Ref, user: TestUser, content: string) => user.caller.message.send({ ...ref, id: randomUUID(), content });
const totals = async (user: TestUser, ref: Ref) => (await user.caller.project.unreadTotals())[ref.projectId];
const mentionSeqs = async (user: TestUser, ref: Ref) => (await user.caller.session.mentions(ref))[ref.sessionId] ?? [];

async function sharedSession(): Promise<Ref> {
  const ref = await projectWithSession(ada);
  await addToProject(ada, ref.projectId, bob);
  return ref;
}

describe('@mentions count separately from unread, per user and session', () => {
  it('counts members mentioned outside code, once per message, never the author or strangers', async () => {
    const ref = await sharedSession();
    await send(ref, ada, 'plain');
    const m2 = await send(ref, ada, `@${bob.username.toUpperCase()} and @${bob.username} look, @${ada.username} too`);
    await send(ref, ada, `\`@${bob.username}\` is code; @${cy.username} is no member`);
    expect(await totals(bob, ref)).toEqual({ unread: 3, mentions: 1 });
    expect(await mentionSeqs(bob, ref)).toEqual([m2.seq]);
    // Ada mentioned herself: own messages are never unread, their mentions neither.
    expect(await totals(ada, ref)).toEqual({ unread: 0, mentions: 0 });
    expect(await cy.caller.project.unreadTotals()).not.toHaveProperty(ref.projectId);
  });

  it('only mentions after the marker are unread', async () => {
    const ref = await sharedSession();
    const first = await send(ref, ada, `@${bob.username} one`);
    const second = await send(ref, ada, `@${bob.username} two`);
    expect(await mentionSeqs(bob, ref)).toEqual([first.seq, second.seq]);
    await bob.caller.session.markRead({ ...ref, seq: first.seq });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 1 });
    expect(await mentionSeqs(bob, ref)).toEqual([second.seq]);
    await bob.caller.session.markRead({ ...ref, seq: second.seq });
    expect(await totals(bob, ref)).toEqual({ unread: 0, mentions: 0 });
    expect(await bob.caller.session.mentions(ref)).toEqual({});
  });

  it('an edit that adds or removes a mention, and a delete, keep the counts right; reactions change nothing', async () => {
    const ref = await sharedSession();
    const m = await send(ref, ada, 'hello');
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 0 });
    await ada.caller.message.edit({ ...ref, id: m.id, content: `hello @${bob.username}` });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 1 });
    await bob.caller.message.react({ ...ref, id: m.id, emoji: '👍' });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 1 });
    await ada.caller.message.edit({ ...ref, id: m.id, content: 'hello all' });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 0 });
    await ada.caller.message.edit({ ...ref, id: m.id, content: `hello again @${bob.username}` });
    expect(await mentionSeqs(bob, ref)).toEqual([m.seq]);
    await ada.caller.message.delete({ ...ref, id: m.id });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 0 });
    expect(await mentionSeqs(bob, ref)).toEqual([]);
  });

  it('a repeated send (same id) counts its mentions once', async () => {
    const ref = await sharedSession();
    const id = randomUUID();
    await ada.caller.message.send({ ...ref, id, content: `@${bob.username}` });
    await ada.caller.message.send({ ...ref, id, content: `@${bob.username}` });
    expect(await totals(bob, ref)).toEqual({ unread: 1, mentions: 1 });
  });

  it('sums mentions over sessions in project.unreadTotals', async () => {
    const ref = await sharedSession();
    const other = { projectId: ref.projectId, sessionId: (await ada.caller.session.create({ projectId: ref.projectId, title: 'Other' })).id };
    await send(ref, ada, `@${bob.username}`);
    await send(other, ada, `@${bob.username} and again`);
    await send(other, ada, 'no mention');
    expect(await totals(bob, ref)).toEqual({ unread: 3, mentions: 2 });
    expect(await bob.caller.session.mentions(ref)).toEqual({ [ref.sessionId]: [1], [other.sessionId]: [1] });
  });

  it('session.mentions is NOT_FOUND for a non-member', async () => {
    const ref = await sharedSession();
    await expect(cy.caller.session.mentions({ projectId: ref.projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('events.unread: the home page’s live totals', () => {
  /** Reads a plain (untracked) subscription: the next item within a deadline. */
  async function open(user: TestUser) {
    const it = (await user.caller.events.unread())[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<unknown>> | null = null;
    const next = async (ms = 5000) => {
      pending ??= it.next();
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([pending, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
      clearTimeout(timer);
      if (result === 'timeout') return 'timeout' as const;
      pending = null;
      if (result.done) throw new Error('stream ended');
      return result.value as Record<string, { unread: number; mentions: number }>;
    };
    // A pending next() settles on its own; return() ends the generator and runs its finally.
    return { next, close: () => Promise.race([it.return?.(undefined), new Promise((r) => setTimeout(r, 200))]) };
  }

  it('starts with every project’s totals, then sends a project’s new totals when they change', async () => {
    // Fresh users: the feed lists all of a user's projects.
    const ada = await h.user();
    const bob = await h.user();
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    const other = await projectWithSession(bob);
    await send(ref, ada, 'before');
    const feed = await open(bob);
    expect(await feed.next()).toEqual({ [ref.projectId]: { unread: 1, mentions: 0 }, [other.projectId]: { unread: 0, mentions: 0 } });

    await send(ref, ada, `@${bob.username} now`);
    // Coalesced: one item may carry both changes, or the first may come before the second landed.
    let item = await feed.next();
    while (item !== 'timeout' && item[ref.projectId]?.mentions !== 1) item = await feed.next();
    expect(item).toEqual({ [ref.projectId]: { unread: 2, mentions: 1 } });

    // Read in another tab: the home page follows.
    await bob.caller.session.markRead({ ...ref, seq: 2 });
    expect(await feed.next()).toEqual({ [ref.projectId]: { unread: 0, mentions: 0 } });

    // Bob's own message changes nothing for him: nothing is sent.
    await send(other, bob, 'mine');
    expect(await feed.next(500)).toBe('timeout');
    await feed.close();
  });
});
