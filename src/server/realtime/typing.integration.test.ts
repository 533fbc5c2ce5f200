import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { addToProject, createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { createContextInner } from '~/server/trpc/init';
import { createCaller } from '~/server/trpc/root';

let h: Harness;
let ada: TestUser;
let bob: TestUser;

beforeAll(async () => {
  h = createHarness();
  ada = await h.user();
  bob = await h.user();
});
afterAll(() => h.close());

function callerIn(harness: Harness, user: TestUser) {
  return createCaller(createContextInner({ services: harness, sessionToken: decodeURIComponent(user.token) }));
}

describe('typing (ephemeral signals)', () => {
  it('reaches the other members’ streams in another app process, and never enters the event log', async () => {
    const other = createHarness(); // a second app process: its own connections and hub
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    const logBefore = await h.redis.xlen(keys.events(ref.projectId));

    const bobs = await openSubscription(callerIn(other, bob).events.subscribe({ projectId: ref.projectId }));
    await bobs.take(1); // ready
    await ada.caller.session.typing({ ...ref, typing: true });
    const [started] = await bobs.take(1);
    expect(started?.event).toEqual({
      type: 'typing',
      projectId: ref.projectId,
      sessionId: ref.sessionId,
      userId: ada.id,
      username: ada.username,
      typing: true,
    });
    await ada.caller.session.typing({ ...ref, typing: false });
    expect((await bobs.take(1))[0]?.event).toMatchObject({ type: 'typing', typing: false });

    // A burst of typing leaves the log alone: no resync for anyone, whatever the trim length.
    for (let i = 0; i < 100; i++) await ada.caller.session.typing({ ...ref, typing: i % 2 === 0 });
    expect(await h.redis.xlen(keys.events(ref.projectId))).toBe(logBefore);
    const burst = await bobs.take(100);
    expect(burst.every((e) => e.event.type === 'typing')).toBe(true);

    // Real events keep flowing in order after it.
    const m = await ada.caller.message.send({ ...ref, id: randomUUID(), content: 'done typing' });
    expect((await bobs.take(1))[0]?.event).toEqual({ type: 'message.created', message: m });
    await bobs.close();
    await other.close();
  });

  it('stays in its project: another project’s streams hear nothing', async () => {
    const ref = await projectWithSession(ada);
    const elsewhere = await projectWithSession(ada);
    const sub = await openSubscription(ada.caller.events.subscribe({ projectId: elsewhere.projectId }));
    await sub.take(1);
    await ada.caller.session.typing({ ...ref, typing: true });
    await ada.caller.message.send({ ...elsewhere, id: randomUUID(), content: 'marker' });
    // The next thing this stream hears is its own project's message, not the typing.
    expect((await sub.take(1))[0]?.event.type).toBe('message.created');
    await sub.close();
  });

  it('a non-member cannot signal typing (NOT_FOUND), and bad input is refused', async () => {
    const ref = await projectWithSession(ada);
    const stranger = await h.user();
    await expect(stranger.caller.session.typing({ ...ref, typing: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      ada.caller.session.typing({ ...ref, typing: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
