import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToProject, createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';

let h: Harness;
let ada: TestUser;
let bob: TestUser;

beforeAll(async () => {
  h = createHarness();
  ada = await h.user();
  bob = await h.user();
});
afterAll(() => h.close());

type Ref = { projectId: string; sessionId: string };
const send = (ref: Ref, user: TestUser, content = 'hi') => user.caller.message.send({ ...ref, id: randomUUID(), content });
const unreadOf = async (user: TestUser, ref: Ref) => {
  const [session, markers] = await Promise.all([user.caller.session.get(ref), user.caller.session.readMarkers(ref)]);
  return session.messageCount - (markers[ref.sessionId] ?? 0);
};

async function sharedSession(): Promise<Ref> {
  const ref = await projectWithSession(ada);
  await addToProject(ada, ref.projectId, bob);
  return ref;
}

describe('read markers and unread counts', () => {
  it('markRead is monotonic and capped at the last message', async () => {
    const ref = await sharedSession();
    for (let i = 0; i < 5; i++) await send(ref, ada);
    expect(await bob.caller.session.markRead({ ...ref, seq: 3 })).toEqual({ sessionId: ref.sessionId, lastRead: 3 });
    // A late request from another tab never moves it back.
    expect(await bob.caller.session.markRead({ ...ref, seq: 1 })).toMatchObject({ lastRead: 3 });
    // Beyond the last message: capped, so the next message is still unread.
    expect(await bob.caller.session.markRead({ ...ref, seq: 999 })).toMatchObject({ lastRead: 5 });
    await send(ref, ada);
    expect(await unreadOf(bob, ref)).toBe(1);
  });

  it('unread = lastSeq - lastRead, unchanged by edits and deletes; own messages never count', async () => {
    const ref = await sharedSession();
    const first = await send(ref, ada, 'one');
    await send(ref, ada, 'two');
    await send(ref, ada, 'three');
    expect(await unreadOf(bob, ref)).toBe(3);
    expect(await unreadOf(ada, ref)).toBe(0);
    await ada.caller.message.edit({ ...ref, id: first.id, content: 'one, edited' });
    await ada.caller.message.delete({ ...ref, id: first.id });
    expect(await unreadOf(bob, ref)).toBe(3);
    // Bob replies: his own message does not count, and answering reads what came before.
    await send(ref, bob, 'reply');
    expect(await unreadOf(bob, ref)).toBe(0);
    expect(await unreadOf(ada, ref)).toBe(1);
  });

  it('project.unreadTotals sums a user’s sessions per project', async () => {
    const ref = await sharedSession();
    const other = await ada.caller.session.create({ projectId: ref.projectId, title: 'Other' });
    await send(ref, ada);
    await send(ref, ada);
    await send({ projectId: ref.projectId, sessionId: other.id }, ada);
    expect((await bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 3, mentions: 0 });
    expect((await ada.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 0, mentions: 0 });
    await bob.caller.session.markRead({ ...ref, seq: 2 });
    expect((await bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 1, mentions: 0 });
  });

  it('bad input is a clear error: a negative seq, an unknown session', async () => {
    const ref = await sharedSession();
    await expect(bob.caller.session.markRead({ ...ref, seq: -1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(bob.caller.session.markRead({ ...ref, sessionId: randomUUID(), seq: 1 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('a moved marker reaches that user’s streams only, not the log and not other members', async () => {
    const ref = await sharedSession();
    await send(ref, ada);
    const bobs = await openSubscription(bob.caller.events.subscribe({ projectId: ref.projectId }));
    const adas = await openSubscription(ada.caller.events.subscribe({ projectId: ref.projectId }));
    await bobs.take(1); // ready
    await adas.take(1);
    await bob.caller.session.markRead({ ...ref, seq: 1 });
    const [got] = await bobs.take(1);
    expect(got?.event).toEqual({ type: 'read.updated', projectId: ref.projectId, sessionId: ref.sessionId, lastRead: 1 });
    // A repeat changes nothing and says nothing.
    await bob.caller.session.markRead({ ...ref, seq: 1 });
    await send(ref, ada, 'next');
    const [after] = await bobs.take(1);
    expect(after?.event.type).toBe('message.created');
    // Ada sees her own message (which moved her own marker) but never Bob's read position.
    // (Her own send moved her marker silently: her tabs learn it from her message.created.)
    const adaGot = await adas.take(1);
    expect(adaGot.map((e) => e.event.type)).toEqual(['message.created']);
    await ada.caller.session.markRead({ ...ref, seq: 2 }); // already there: nothing to say
    await bob.caller.session.markRead({ ...ref, seq: 2 });
    expect((await bobs.take(1))[0]?.event).toMatchObject({ type: 'read.updated', lastRead: 2 });
    expect(await adas.drain(500)).toEqual([]);
    await bobs.close();
    await adas.close();
  });
});
