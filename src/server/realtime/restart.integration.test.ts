/**
 * A live subscription across restarts of the whole Redis (on the cluster pass every node at once: the
 * hub's sharded subscriber connections are all lost and made again). After each restart, a message
 * sent once - with no later write whose wake-up could nudge the hub into reading - must reach the tab
 * live, once (issue #13: a tab missed such messages for good).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EventHub } from '~/server/realtime/hub';
import { createSubscriber } from '~/server/redis/client';
import { createHarness, type Harness, type TestUser } from '~/server/testing/harness';
import { clusterTestPass, startOwnRedis, type OwnRedis } from '~/server/testing/own-redis';
import { openSubscription, type ReceivedEvent } from '~/server/testing/subscriptions';
import { waitFor } from '~/server/testing/wait';

const RESTARTS = 3;

let redis: OwnRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startOwnRedis();
  h = createHarness(redis.url);
}, 60_000);
afterAll(async () => {
  await h?.close();
  await redis?.destroy();
});

/** Sends one message, retried with the same id until acknowledged (Redis may still be coming back). */
async function sendOnce(user: TestUser, ref: { projectId: string; sessionId: string }, content: string): Promise<string> {
  const id = randomUUID();
  await waitFor(
    async () => {
      await user.caller.message.send({ ...ref, id, content });
      return true;
    },
    30_000,
    `"${content}" acknowledged`,
  );
  return id;
}

const createdIds = (events: ReceivedEvent[]) =>
  events.map((e) => (e.event.type === 'message.created' ? e.event.message.id : e.event.type));

it('delivers each message sent after a whole-Redis restart live, with no later write to wake the hub', async () => {
  const alice = await h.user();
  const project = await alice.caller.project.create({ name: 'Restarts' });
  const session = await alice.caller.session.create({ projectId: project.id, title: 'Room' });
  const ref = { projectId: project.id, sessionId: session.id };
  const live = await openSubscription(alice.caller.events.subscribe({ projectId: project.id }));
  expect((await live.take(1))[0]?.event.type).toBe('ready');

  for (let round = 0; round < RESTARTS; round++) {
    await redis.restart();
    // At once: lands while the hub's subscriber may still be reconnecting (its wake-up then lost).
    const first = await sendOnce(alice, ref, `round ${round}: right after the restart`);
    expect(createdIds(await live.take(1, 20_000)), `round ${round}: the first message`).toEqual([first]);
    // Then one more, alone: only its own wake-up (or a read after the hub resubscribed) can deliver it.
    const second = await sendOnce(alice, ref, `round ${round}: a little later`);
    expect(createdIds(await live.take(1, 20_000)), `round ${round}: the second message`).toEqual([second]);
  }
  expect(await live.drain(300), 'nothing twice').toEqual([]);
  await live.close();
}, 150_000);

// What made the tab above miss messages for good on a cluster, made certain instead of left to the
// timing of a restart: when ioredis 6's Cluster drops its sharded subscribers (it does on a failed
// ready check or when no node answers - both happen while a whole cluster restarts) as one of them is
// still connecting, that one's start never settles, and the client's sharded subscriber group waits
// on it for good: it never re-subscribes the hub's channels again, on any later reconnect.
it.skipIf(!clusterTestPass())(
  'keeps delivering after the cluster client dropped its sharded subscribers while one was connecting',
  async () => {
    const alice = await h.user();
    const project = await alice.caller.project.create({ name: 'Wedged' });
    const session = await alice.caller.session.create({ projectId: project.id, title: 'Room' });
    const ref = { projectId: project.id, sessionId: session.id };
    let subscriber: Redis | null = null;
    const hub = new EventHub(h.redis, () => (subscriber = createSubscriber(redis.url)));
    const created: string[] = [];
    const followed = await hub.follow(project.id, (item) => {
      if (item.kind === 'entry' && item.event.type === 'message.created') created.push(item.event.message.id);
    });
    try {
      const before = await sendOnce(alice, ref, 'before');
      await waitFor(() => created.includes(before), 10_000, 'the first message');

      const sub: Redis = subscriber!;
      // The reconnect re-creates the sharded subscriber of the project's master ('+subscriber', as it
      // starts connecting); the second drop comes once its socket exists, before it is ready.
      sub.once('+subscriber', () => setImmediate(() => sub.disconnect(true)));
      sub.disconnect(true);

      // Each message is sent once the one before arrived: only a wake-up can deliver the last one.
      for (const content of ['after 1', 'after 2', 'after 3']) {
        const id = await sendOnce(alice, ref, content);
        await waitFor(() => created.includes(id), 20_000, `"${content}" delivered`);
      }
      expect(created.length, 'nothing twice').toBe(new Set(created).size);
    } finally {
      followed.stop();
      await hub.close();
    }
  },
  60_000,
);
