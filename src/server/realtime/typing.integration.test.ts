import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { addToProject, callerWithCookieOf, createHarness, projectWithSession, useHarness } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';

const env = useHarness(['ada', 'bob']);


describe('typing (ephemeral signals)', () => {
  it('reaches the other members’ streams in another app process, and never enters the event log', async () => {
    const other = createHarness(); // a second app process: its own connections and hub
    const ref = await projectWithSession(env.ada);
    await addToProject(env.ada, ref.projectId, env.bob);
    const logBefore = await env.h.redis.xlen(keys.events(ref.projectId));

    const bobs = await openSubscription(callerWithCookieOf(other, env.bob).events.subscribe({ projectId: ref.projectId }));
    await bobs.take(1); // ready
    await env.ada.caller.session.typing({ ...ref, typing: true });
    const [started] = await bobs.take(1);
    expect(started?.event).toEqual({
      type: 'typing',
      projectId: ref.projectId,
      sessionId: ref.sessionId,
      userId: env.ada.id,
      username: env.ada.username,
      typing: true,
    });
    await env.ada.caller.session.typing({ ...ref, typing: false });
    expect((await bobs.take(1))[0]?.event).toMatchObject({ type: 'typing', typing: false });

    // A burst of typing leaves the log alone: no resync for anyone, whatever the trim length.
    for (let i = 0; i < 100; i++) await env.ada.caller.session.typing({ ...ref, typing: i % 2 === 0 });
    expect(await env.h.redis.xlen(keys.events(ref.projectId))).toBe(logBefore);
    const burst = await bobs.take(100);
    expect(burst.every((e) => e.event.type === 'typing')).toBe(true);

    // Real events keep flowing in order after it.
    const m = await env.ada.caller.message.send({ ...ref, id: randomUUID(), content: 'done typing' });
    expect((await bobs.take(1))[0]?.event).toEqual({ type: 'message.created', message: m });
    await bobs.close();
    await other.close();
  });

  it('stays in its project: another project’s streams hear nothing', async () => {
    const ref = await projectWithSession(env.ada);
    const elsewhere = await projectWithSession(env.ada);
    const sub = await openSubscription(env.ada.caller.events.subscribe({ projectId: elsewhere.projectId }));
    await sub.take(1);
    await env.ada.caller.session.typing({ ...ref, typing: true });
    await env.ada.caller.message.send({ ...elsewhere, id: randomUUID(), content: 'marker' });
    // The next thing this stream hears is its own project's message, not the typing.
    expect((await sub.take(1))[0]?.event.type).toBe('message.created');
    await sub.close();
  });

  it('a non-member cannot signal typing (NOT_FOUND), and bad input is refused', async () => {
    const ref = await projectWithSession(env.ada);
    const stranger = await env.h.user();
    await expect(stranger.caller.session.typing({ ...ref, typing: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      env.ada.caller.session.typing({ ...ref, typing: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
