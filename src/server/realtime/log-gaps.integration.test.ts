/**
 * Gaps a reader cannot bridge - entries trimmed before it read them, entries it cannot decode - must
 * reach tabs as ONE resync, never as silence and never as a storm of refetches.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { EventHub, type TailItem } from '~/server/realtime/hub';
import { testRedisUrl, useHarness } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { waitFor } from '~/server/testing/wait';
import { createRedis } from '~/server/redis/client';

const env = useHarness(['alice']);

const member = JSON.stringify({ id: 'u', username: 'u' });

describe('a tail whose position was trimmed away before it read', () => {
  for (const startsEmpty of [false, true]) {
    it(`resyncs its subscribers (log ${startsEmpty ? 'empty' : 'not empty'} when the tail started)`, async () => {
      // Its own hub, so that nothing else reads this project's log meanwhile.
      const hub = new EventHub(env.h.redis, () => createRedis(testRedisUrl()));
      const pid = randomUUID();
      const key = keys.events(pid);
      if (!startsEmpty) await env.h.redis.xadd(key, '*', 't', 'member.added', 'd', member);
      const got: TailItem[] = [];
      const followed = await hub.follow(pid, (item) => got.push(item));
      await new Promise((r) => setTimeout(r, 100)); // follow()'s own first read is done
      // A burst longer than the log keeps, then one wake-up (as every write script publishes): the
      // tail reads once, after its position was trimmed away.
      const burst = env.h.redis.multi();
      for (let i = 0; i < 300; i++) burst.xadd(key, 'MAXLEN', 50, '*', 't', 'member.added', 'd', member);
      await burst.exec();
      await env.h.redis.publish(keys.wakeChannel(pid), 'x');
      await waitFor(() => got.length > 0, 10_000, 'the tail reads');
      expect(got[0]?.kind).toBe('resync');
      followed.stop();
      await hub.close();
    });
  }
});

describe('entries a subscriber cannot decode', () => {
  it('become a single resync, and the stream goes on', async () => {
    const project = await env.alice.caller.project.create({ name: 'Gaps' });
    const session = await env.alice.caller.session.create({ projectId: project.id, title: 'Room' });
    const ref = { projectId: project.id, sessionId: session.id };
    const sub = await openSubscription(env.alice.caller.events.subscribe({ projectId: project.id }));
    const [ready] = await sub.take(1);
    // What a newer app version might write during a rolling deploy, three times in a row.
    for (let i = 0; i < 3; i++) await env.h.redis.xadd(keys.events(project.id), '*', 't', 'typing.started', 'd', '{}');
    await env.h.redis.publish(keys.wakeChannel(project.id), 'x');
    await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'after' });
    const live = await sub.take(2);
    expect(live.map((e) => e.event.type)).toEqual(['resync', 'message.created']);
    await sub.close();

    // The same on catch-up from before the unreadable entries.
    const resumed = await openSubscription(
      env.alice.caller.events.subscribe({ projectId: project.id, lastEventId: ready!.id }),
    );
    const caughtUp = await resumed.take(2);
    expect(caughtUp.map((e) => e.event.type)).toEqual(['resync', 'message.created']);
    expect(await resumed.drain(300)).toEqual([]);
    await resumed.close();
  });
});
