/**
 * A Redis that restarts WITHOUT its latest writes (here: snapshot-only persistence; in production, the
 * last second of an everysec AOF after a power loss) reuses seqs and event-id time ranges. Every tab
 * must learn that the log went back (resync) - also when a new write lands right after the restart,
 * before any periodic check could notice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../../scripts/lib/redis-server.mjs';
import { createHarness, type Harness } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { waitFor } from '~/server/testing/wait';

let server: RedisServerHandle;
let h: Harness;
beforeAll(async () => {
  server = await startRedisServer({ extraArgs: ['--appendonly', 'no'] });
  h = createHarness(server.url);
});
afterAll(async () => {
  await h.close();
  await server.destroy();
});

it('tells live and resuming subscribers to resync when the log went back, even if a write lands first', async () => {
  const alice = await h.user();
  const project = await alice.caller.project.create({ name: 'Reset' });
  const session = await alice.caller.session.create({ projectId: project.id, title: 'Room' });
  const ref = { projectId: project.id, sessionId: session.id };
  const live = await openSubscription(alice.caller.events.subscribe({ projectId: project.id }));
  await live.take(1); // ready
  await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'one' });
  await h.redis.save();
  await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'two (to be lost)' });
  await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'three (to be lost)' });
  const seen = await live.take(3);
  const lastSeen = seen.at(-1)!.id;

  await server.kill();
  await server.restart();
  await waitFor(async () => (await h.redis.ping()) === 'PONG', 10_000, 'Redis answers again');
  // Lands at once: seq 2 again, with an event id beyond everything the tabs saw.
  const reused = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'four' });
  expect(reused.seq).toBe(2);

  // The very first thing the tab hears after the restart is the resync: nothing from across the gap is
  // handed out as if it followed what the tab saw. (The new message may follow it; the refetch that the
  // resync triggers shows it too, and the client de-duplicates by message id.)
  const afterRestart = await live.take(1, 10_000);
  expect(afterRestart[0]?.event.type).toBe('resync');

  const resumed = await openSubscription(
    alice.caller.events.subscribe({ projectId: project.id, lastEventId: lastSeen }),
  );
  expect((await resumed.take(1))[0]?.event.type).toBe('resync');
  await live.close();
  await resumed.close();
});
