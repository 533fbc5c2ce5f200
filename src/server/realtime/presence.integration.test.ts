import { describe, expect, it } from 'vitest';
import { Presence } from '~/server/chat/read-state';
import { keys } from '~/server/redis/keys';
import { addToProject, callerWithCookieOf, createHarness, projectWithSession, useHarness } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { PRESENCE } from '~/shared/limits';

const env = useHarness(['ada', 'bob']);

describe('presence', () => {
  it('a heartbeat in one app process reaches streams in another, and lists the member there', async () => {
    const other = createHarness(); // a second app process
    const bobElsewhere = callerWithCookieOf(other, env.bob);
    const ref = await projectWithSession(env.ada);
    await addToProject(env.ada, ref.projectId, env.bob);
    const logBefore = await env.h.redis.xlen(keys.events(ref.projectId));

    const sub = await openSubscription(bobElsewhere.events.subscribe({ projectId: ref.projectId }));
    await sub.take(1); // ready
    const { until } = await env.ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'idle' });
    const [got] = await sub.take(1);
    expect(got?.event).toEqual({ type: 'presence', projectId: ref.projectId, userId: env.ada.id, state: 'idle', until });
    expect(await bobElsewhere.project.presence({ projectId: ref.projectId })).toEqual([{ userId: env.ada.id, state: 'idle', until }]);
    // Ephemeral: nothing in the event log.
    expect(await env.h.redis.xlen(keys.events(ref.projectId))).toBe(logBefore);
    await sub.close();
    await other.close();
  });

  it('a browser that stops beating drops out after the expiry, and is swept by the next heartbeat', async () => {
    const ref = await projectWithSession(env.ada);
    await addToProject(env.ada, ref.projectId, env.bob);
    const presence = new Presence(env.h.redis);
    const longAgo = Date.now() - PRESENCE.expiryMs - 1000;
    await presence.heartbeat(ref.projectId, env.bob.id, 'active', longAgo); // bob closed his browser back then
    await env.ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'active' });
    const listed = await env.ada.caller.project.presence({ projectId: ref.projectId });
    expect(listed.map((p) => p.userId)).toEqual([env.ada.id]);
    expect(await env.h.redis.zscore(keys.presence(ref.projectId), env.bob.id)).toBeNull();
    expect(await env.h.redis.hget(keys.presenceState(ref.projectId), env.bob.id)).toBeNull();
  });

  it('refuses a state it does not know', async () => {
    const ref = await projectWithSession(env.ada);
    await expect(
      env.ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'away' as 'idle' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
