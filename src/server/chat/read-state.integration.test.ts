import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addToProject, projectWithSession, type TestUser, useHarness } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';

const env = useHarness(['ada', 'bob']);

type Ref = { projectId: string; sessionId: string };
const send = (ref: Ref, user: TestUser, content = 'hi') => user.caller.message.send({ ...ref, id: randomUUID(), content });
const unreadOf = async (user: TestUser, ref: Ref) => {
  const [session, markers] = await Promise.all([user.caller.session.get(ref), user.caller.session.readMarkers(ref)]);
  return session.messageCount - (markers[ref.sessionId] ?? 0);
};

async function sharedSession(): Promise<Ref> {
  const ref = await projectWithSession(env.ada);
  await addToProject(env.ada, ref.projectId, env.bob);
  return ref;
}

describe('read markers and unread counts', () => {
  it('markRead is monotonic and capped at the last message', async () => {
    const ref = await sharedSession();
    for (let i = 0; i < 5; i++) await send(ref, env.ada);
    expect(await env.bob.caller.session.markRead({ ...ref, seq: 3 })).toEqual({ sessionId: ref.sessionId, lastRead: 3 });
    // A late request from another tab never moves it back.
    expect(await env.bob.caller.session.markRead({ ...ref, seq: 1 })).toMatchObject({ lastRead: 3 });
    // Beyond the last message: capped, so the next message is still unread.
    expect(await env.bob.caller.session.markRead({ ...ref, seq: 999 })).toMatchObject({ lastRead: 5 });
    await send(ref, env.ada);
    expect(await unreadOf(env.bob, ref)).toBe(1);
  });

  it('unread = lastSeq - lastRead, unchanged by edits and deletes; own messages never count', async () => {
    const ref = await sharedSession();
    const first = await send(ref, env.ada, 'one');
    await send(ref, env.ada, 'two');
    await send(ref, env.ada, 'three');
    expect(await unreadOf(env.bob, ref)).toBe(3);
    expect(await unreadOf(env.ada, ref)).toBe(0);
    await env.ada.caller.message.edit({ ...ref, id: first.id, content: 'one, edited' });
    await env.ada.caller.message.delete({ ...ref, id: first.id });
    expect(await unreadOf(env.bob, ref)).toBe(3);
    // Bob replies: his own message does not count, and answering reads what came before.
    await send(ref, env.bob, 'reply');
    expect(await unreadOf(env.bob, ref)).toBe(0);
    expect(await unreadOf(env.ada, ref)).toBe(1);
  });

  it('project.unreadTotals sums a user’s sessions per project', async () => {
    const ref = await sharedSession();
    const other = await env.ada.caller.session.create({ projectId: ref.projectId, title: 'Other' });
    await send(ref, env.ada);
    await send(ref, env.ada);
    await send({ projectId: ref.projectId, sessionId: other.id }, env.ada);
    expect((await env.bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 3, mentions: 0 });
    expect((await env.ada.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 0, mentions: 0 });
    await env.bob.caller.session.markRead({ ...ref, seq: 2 });
    expect((await env.bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 1, mentions: 0 });
  });

  it('bad input is a clear error: a negative seq, an unknown session', async () => {
    const ref = await sharedSession();
    await expect(env.bob.caller.session.markRead({ ...ref, seq: -1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(env.bob.caller.session.markRead({ ...ref, sessionId: randomUUID(), seq: 1 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('a moved marker reaches that user’s streams only, not the log and not other members', async () => {
    const ref = await sharedSession();
    await send(ref, env.ada);
    const bobs = await openSubscription(env.bob.caller.events.subscribe({ projectId: ref.projectId }));
    const adas = await openSubscription(env.ada.caller.events.subscribe({ projectId: ref.projectId }));
    await bobs.take(1); // ready
    await adas.take(1);
    await env.bob.caller.session.markRead({ ...ref, seq: 1 });
    const [got] = await bobs.take(1);
    expect(got?.event).toEqual({ type: 'read.updated', projectId: ref.projectId, sessionId: ref.sessionId, lastRead: 1 });
    // A repeat changes nothing and says nothing.
    await env.bob.caller.session.markRead({ ...ref, seq: 1 });
    await send(ref, env.ada, 'next');
    const [after] = await bobs.take(1);
    expect(after?.event.type).toBe('message.created');
    // Ada sees her own message (which moved her own marker) but never Bob's read position.
    // (Her own send moved her marker silently: her tabs learn it from her message.created.)
    const adaGot = await adas.take(1);
    expect(adaGot.map((e) => e.event.type)).toEqual(['message.created']);
    await env.ada.caller.session.markRead({ ...ref, seq: 2 }); // already there: nothing to say
    await env.bob.caller.session.markRead({ ...ref, seq: 2 });
    expect((await bobs.take(1))[0]?.event).toMatchObject({ type: 'read.updated', lastRead: 2 });
    expect(await adas.drain(500)).toEqual([]);
    await bobs.close();
    await adas.close();
  });
});
