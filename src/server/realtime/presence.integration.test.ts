import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Presence } from '~/server/chat/read-state';
import { keys } from '~/server/redis/keys';
import { addToProject, createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { createContextInner } from '~/server/trpc/init';
import { createCaller } from '~/server/trpc/root';
import { PRESENCE } from '~/shared/limits';

let h: Harness;
let ada: TestUser;
let bob: TestUser;

beforeAll(async () => {
  h = createHarness();
  ada = await h.user();
  bob = await h.user();
});
afterAll(() => h.close());

describe('presence', () => {
  it('a heartbeat in one app process reaches streams in another, and lists the member there', async () => {
    const other = createHarness(); // a second app process
    const bobElsewhere = createCaller(createContextInner({ services: other, sessionToken: decodeURIComponent(bob.token) }));
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    const logBefore = await h.redis.xlen(keys.events(ref.projectId));

    const sub = await openSubscription(bobElsewhere.events.subscribe({ projectId: ref.projectId }));
    await sub.take(1); // ready
    const { until } = await ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'idle' });
    const [got] = await sub.take(1);
    expect(got?.event).toEqual({ type: 'presence', projectId: ref.projectId, userId: ada.id, state: 'idle', until });
    expect(await bobElsewhere.project.presence({ projectId: ref.projectId })).toEqual([{ userId: ada.id, state: 'idle', until }]);
    // Ephemeral: nothing in the event log.
    expect(await h.redis.xlen(keys.events(ref.projectId))).toBe(logBefore);
    await sub.close();
    await other.close();
  });

  it('a browser that stops beating drops out after the expiry, and is swept by the next heartbeat', async () => {
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    const presence = new Presence(h.redis);
    const longAgo = Date.now() - PRESENCE.expiryMs - 1000;
    await presence.heartbeat(ref.projectId, bob.id, 'active', longAgo); // bob closed his browser back then
    await ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'active' });
    const listed = await ada.caller.project.presence({ projectId: ref.projectId });
    expect(listed.map((p) => p.userId)).toEqual([ada.id]);
    expect(await h.redis.zscore(keys.presence(ref.projectId), bob.id)).toBeNull();
    expect(await h.redis.hget(keys.presenceState(ref.projectId), bob.id)).toBeNull();
  });

  it('refuses a state it does not know', async () => {
    const ref = await projectWithSession(ada);
    await expect(
      ada.caller.project.heartbeat({ projectId: ref.projectId, state: 'away' as 'idle' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
