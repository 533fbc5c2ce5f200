/**
 * Failure behaviour against a Redis this file owns (so it can stop and kill it; on the cluster pass every
 * node of a cluster of its own, see testing/own-redis.ts): a request fails
 * fast and clearly while Redis is down, the app recovers by itself when Redis returns, and every
 * acknowledged message survives `kill -9` of redis-server (AOF replay on restart).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';
import { startOwnRedis, type OwnRedis } from '~/server/testing/own-redis';
import { openSubscription } from '~/server/testing/subscriptions';
import { waitFor } from '~/server/testing/wait';

let server: OwnRedis;
let h: Harness;
let alice: TestUser;

beforeAll(async () => {
  server = await startOwnRedis();
  h = createHarness(server.url);
  alice = await h.user();
});
afterAll(async () => {
  await h.close();
  await server.destroy();
});

describe('with Redis down', () => {
  it('fails every kind of request within a bounded time with SERVICE_UNAVAILABLE, then recovers', async () => {
    const ref = await projectWithSession(alice);
    await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'before' });
    await server.stop();

    const id = randomUUID();
    for (const call of [
      () => alice.caller.message.send({ ...ref, id, content: 'during' }),
      () => alice.caller.message.list(ref),
      () => alice.caller.session.list({ projectId: ref.projectId }),
      () => alice.caller.project.list(),
    ]) {
      const started = Date.now();
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      // "Bounded": it fails, and in seconds rather than ioredis's default of about a minute.
      expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(elapsed).toBeLessThan(10_000);
    }

    await server.restart();
    await waitFor(async () => (await h.redis.ping()) === 'PONG');
    // The client retries the failed send with the same id: stored exactly once.
    await alice.caller.message.send({ ...ref, id, content: 'during' });
    await alice.caller.message.send({ ...ref, id, content: 'during' });
    const page = await alice.caller.message.list(ref);
    expect(page.items.map((m) => m.content)).toEqual(['before', 'during']);
  });

  it('a live subscription fails clearly, and a resubscribe from the last id catches up', async () => {
    const ref = await projectWithSession(alice);
    const sub = await openSubscription(alice.caller.events.subscribe({ projectId: ref.projectId }));
    await sub.take(1);
    await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'one' });
    const [seen] = await sub.take(1);

    await server.stop();
    await expect(
      openSubscription(alice.caller.events.subscribe({ projectId: randomUUID() })),
    ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await server.restart();
    await waitFor(async () => (await h.redis.ping()) === 'PONG');

    await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'two' });
    // The existing subscription resumes by itself (the hub re-reads after its subscriber reconnects).
    const [live] = await sub.take(1, 10_000);
    expect(live?.event).toMatchObject({ type: 'message.created', message: { content: 'two' } });
    await sub.close();
    // And a fresh one from the last id it saw gets exactly what came after.
    const resumed = await openSubscription(
      alice.caller.events.subscribe({ projectId: ref.projectId, lastEventId: seen!.id }),
    );
    const got = await resumed.take(1);
    expect(got[0]?.event).toMatchObject({ message: { content: 'two' } });
    expect(await resumed.drain(300)).toEqual([]);
    await resumed.close();
  });
});

describe('durability', () => {
  it('keeps every acknowledged message when redis-server is killed with SIGKILL and restarted', async () => {
    const ref = await projectWithSession(alice);
    const acknowledged: string[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const m = await alice.caller.message.send({ ...ref, id: randomUUID(), content: `ack ${i}` });
        acknowledged.push(m.id);
      }),
    );
    // No pause, no SAVE: kill right after the last acknowledgement.
    await server.kill();
    await server.restart();
    await waitFor(async () => (await h.redis.ping()) === 'PONG');

    const stored: string[] = [];
    let cursor: number | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: number | null } = await alice.caller.message.list({
        ...ref,
        limit: 200,
        cursor,
      });
      stored.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(new Set(stored)).toEqual(new Set(acknowledged));
    expect(stored).toHaveLength(200);
    expect((await alice.caller.session.get(ref)).messageCount).toBe(200);
    // The login session survived as well.
    expect(await alice.caller.auth.me()).toMatchObject({ id: alice.id });
  });
});
