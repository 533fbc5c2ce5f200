/**
 * Idle eviction (durable tier on, SESSION_IDLE_EVICT_SECONDS set): the messages of a session nobody
 * has read or written for that long leave Redis - only when every change of it is persisted in
 * PostgreSQL - and come back through read-through on the first message read or write, exactly as they
 * were. The session's record (title, counters) and its place in the project's session index stay, so
 * listing sessions never brings messages back. With the setting off (the default) nothing is evicted;
 * with the tier off there is no evictor at all.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { scripts } from '~/server/redis/scripts';
import { createDurableHarness, useDurableTestEnv } from '~/server/testing/durable';
import { allMessages, type TestUser } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { storedBodyCount } from '~/server/testing/stored-bodies';
import { waitFor } from '~/server/testing/wait';
import { outboxLag } from './tier';

// At least 2: Redis's OBJECT IDLETIME counts whole seconds on a clock that ticks at second
// boundaries, so a key read 100 ms ago can already be 1 s idle. Tests that assert a session is KEPT
// need a margin of a full second over that.
const IDLE_SECONDS = 2;

// No background sweeps: the tests evict when they mean to.
const env = useDurableTestEnv({ harness: { idleEvictSeconds: IDLE_SECONDS, idleEvictIntervalMs: 0 }, consumer: true });

/** Whether the session's messages are in Redis (what eviction removes and read-through restores). */
const inRedis = async (ref: { projectId: string; sessionId: string }) =>
  (await storedBodyCount(env.h.redis, ref.projectId, ref.sessionId)) > 0;

/** The session's record, which eviction leaves in Redis (with its place in the session index). */
const recordInRedis = async (ref: { projectId: string; sessionId: string }) =>
  (await env.h.redis.hget(keys.session(ref.projectId, ref.sessionId), 'id')) === ref.sessionId &&
  (await env.h.redis.zscore(keys.sessions(ref.projectId), ref.sessionId)) !== null;

/** Redis counts idle time in whole seconds: wait until a session is surely idle for IDLE_SECONDS. */
const untilIdle = () => new Promise((r) => setTimeout(r, (IDLE_SECONDS + 1.2) * 1000));

async function projectWithTwoSessions(u: TestUser) {
  const project = await u.caller.project.create({ name: 'Cold storage' });
  const s1 = await u.caller.session.create({ projectId: project.id, title: 'One', description: 'first' });
  const s2 = await u.caller.session.create({ projectId: project.id, title: 'Two' });
  const ref1 = { projectId: project.id, sessionId: s1.id };
  const ref2 = { projectId: project.id, sessionId: s2.id };
  for (let i = 0; i < 30; i++) await u.caller.message.send({ ...ref1, id: randomUUID(), content: `one ${i}` });
  for (let i = 0; i < 5; i++) await u.caller.message.send({ ...ref2, id: randomUUID(), content: `two ${i}` });
  return { project, ref1, ref2 };
}

describe('idle sessions\' messages leave Redis and come back on first message read', () => {
  it('evicts persisted idle sessions, and every read and write brings them back as they were', async () => {
    const alice = await env.h.user();
    const { project, ref1, ref2 } = await projectWithTwoSessions(alice);
    const [first] = (await alice.caller.message.list({ ...ref1, limit: 1, cursor: 2 })).items;
    await alice.caller.message.edit({ ...ref1, id: first!.id, content: 'one 0, edited' });
    await alice.caller.message.react({ ...ref1, id: first!.id, emoji: '👍' });
    await alice.caller.session.update({ ...ref2, title: 'Two (renamed)' });
    const before = {
      sessions: await alice.caller.session.list({ projectId: project.id }),
      s1: await alice.caller.session.get(ref1),
      one: await allMessages(alice, ref1),
      two: await allMessages(alice, ref2),
      history: await alice.caller.chat.history({ projectId: project.id, limit: 100 }),
    };
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();

    expect(await env.h.durable.evictIdleSessions()).toBeGreaterThanOrEqual(2);
    expect(await inRedis(ref1)).toBe(false);
    expect(await inRedis(ref2)).toBe(false);
    // The project itself, its members, its session index and the sessions' records stay.
    expect(await env.h.redis.hget(keys.project(project.id), 'id')).toBe(project.id);
    expect(await recordInRedis(ref1)).toBe(true);
    expect(await recordInRedis(ref2)).toBe(true);

    // Listing and opening sessions reads the kept records (counters included): no message comes back.
    expect(await alice.caller.session.list({ projectId: project.id })).toEqual(before.sessions);
    expect(await alice.caller.session.get(ref1)).toEqual(before.s1);
    expect(await inRedis(ref1)).toBe(false);
    expect(await inRedis(ref2)).toBe(false);

    // Reading messages brings them back.
    expect(await alice.caller.chat.history({ projectId: project.id, limit: 100 })).toEqual(before.history);
    expect(await allMessages(alice, ref1)).toEqual(before.one);
    expect(await inRedis(ref1)).toBe(true);
    expect(await alice.caller.session.list({ projectId: project.id })).toEqual(before.sessions);

    // Writes bring a session back too: an edit, a repeated send, a new send after the last seq.
    await untilIdle();
    await env.h.durable.evictIdleSessions();
    expect(await inRedis(ref1)).toBe(false);
    expect(await inRedis(ref2)).toBe(false);
    await alice.caller.message.edit({ ...ref1, id: first!.id, content: 'one 0, edited again' });
    const again = await alice.caller.message.send({ ...ref2, id: before.two[0]!.id, content: 'two 0' });
    expect(again).toEqual(before.two[0]);
    const next = await alice.caller.message.send({ ...ref2, id: randomUUID(), content: 'two 5' });
    expect(next.seq).toBe(6);
    expect((await allMessages(alice, ref1))[0]!.content).toBe('one 0, edited again');
    expect((await alice.caller.session.get(ref2)).messageCount).toBe(6);
  });

  it('keeps a session whose latest change has not reached PostgreSQL yet', async () => {
    const bob = await env.h.user();
    const { ref1, ref2 } = await projectWithTwoSessions(bob);
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    // The consumers fall behind, and one more message is only in Redis (and the outbox).
    const stopped = await env.h.stopConsumers();
    await bob.caller.message.send({ ...ref1, id: randomUUID(), content: 'not persisted yet' });
    await untilIdle();

    await env.h.durable.evictIdleSessions();
    expect(await inRedis(ref1)).toBe(true);
    expect(await inRedis(ref2)).toBe(false);

    for (let i = 0; i < stopped; i++) await env.h.consumer();
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    await env.h.durable.evictIdleSessions();
    expect(await inRedis(ref1)).toBe(false);
    expect((await allMessages(bob, ref1)).at(-1)!.content).toBe('not persisted yet');
  });

  it('keeps a session that is being read, however long ago it was written', async () => {
    const carol = await env.h.user();
    const { project, ref1, ref2 } = await projectWithTwoSessions(carol);
    const sessions = await carol.caller.session.list({ projectId: project.id });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    await carol.caller.message.list({ ...ref1, limit: 20 });

    await env.h.durable.evictIdleSessions();
    expect(await inRedis(ref1)).toBe(true);
    expect(await inRedis(ref2)).toBe(false);
    // The session list still shows the evicted one, as it was, without bringing its messages back.
    expect(await carol.caller.session.list({ projectId: project.id })).toEqual(sessions);
    expect(await inRedis(ref2)).toBe(false);
    expect((await allMessages(carol, ref2)).map((m) => m.content)).toEqual([0, 1, 2, 3, 4].map((i) => `two ${i}`));
    expect(await inRedis(ref2)).toBe(true);
  });
});

describe('evicted sessions stay listed without their messages', () => {
  it('session.list of many evicted sessions reads no message back, and is not slowed by them', async () => {
    const frank = await env.h.user();
    const project = await frank.caller.project.create({ name: 'Many' });
    const refs = [];
    for (let s = 0; s < 8; s++) {
      const session = await frank.caller.session.create({ projectId: project.id, title: `s${s}` });
      const ref = { projectId: project.id, sessionId: session.id };
      for (let i = 0; i < 3 + s; i++) await frank.caller.message.send({ ...ref, id: randomUUID(), content: `s${s} m${i}` });
      refs.push(ref);
    }
    const before = await frank.caller.session.list({ projectId: project.id });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    expect(await env.h.durable.evictIdleSessions()).toBeGreaterThanOrEqual(refs.length);

    for (let i = 0; i < 3; i++) {
      const listed = await frank.caller.session.list({ projectId: project.id });
      expect(listed).toEqual(before);
      expect(listed.map((s) => s.messageCount).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    }
    for (const ref of refs) {
      expect(await inRedis(ref)).toBe(false);
      expect(await recordInRedis(ref)).toBe(true);
    }
    // An evicted session stays evicted for the next pass (nothing to do), and a send to it lands after
    // its last message, with its messages back in Redis.
    expect(await env.h.durable.evictIdleSessions()).toBe(0);
    const sent = await frank.caller.message.send({ ...refs[0]!, id: randomUUID(), content: 's0 m3' });
    expect(sent.seq).toBe(4);
    expect((await allMessages(frank, refs[0]!)).map((m) => m.content)).toEqual(['s0 m0', 's0 m1', 's0 m2', 's0 m3']);
    expect((await frank.caller.session.get(refs[0]!)).messageCount).toBe(4);
  });

  it('a renamed evicted session keeps its messages out of Redis, and they come back unchanged', async () => {
    const gina = await env.h.user();
    const { project, ref1 } = await projectWithTwoSessions(gina);
    const one = await allMessages(gina, ref1);
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    expect(await env.h.durable.evictIdleSessions()).toBeGreaterThanOrEqual(2);

    const renamed = await gina.caller.session.update({ ...ref1, title: 'One (renamed)' });
    expect(renamed).toMatchObject({ title: 'One (renamed)', messageCount: 30 });
    expect(Object.keys(renamed)).not.toContain('evicted');
    expect(await inRedis(ref1)).toBe(false);
    expect((await gina.caller.session.list({ projectId: project.id })).find((s) => s.id === ref1.sessionId)).toEqual(renamed);
    expect(await allMessages(gina, ref1)).toEqual(one);
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'rename persisted');
    expect((await env.h.durable.pg.getSession(project.id, ref1.sessionId))?.title).toBe('One (renamed)');
  });
  it('a tab catching up across an evicted session gets one resync, and its refetch reads the messages back', async () => {
    const hana = await env.h.user();
    const project = await hana.caller.project.create({ name: 'Evict events' });
    const s = await hana.caller.session.create({ projectId: project.id, title: 'Cold' });
    const ref = { projectId: project.id, sessionId: s.id };
    const tab = await openSubscription(hana.caller.events.subscribe({ projectId: project.id }));
    const [ready] = await tab.take(1);
    await tab.close();
    for (let i = 0; i < 40; i++) await hana.caller.message.send({ ...ref, id: randomUUID(), content: `m ${i}` });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    expect(await env.h.durable.evictIdleSessions()).toBeGreaterThanOrEqual(1);
    expect(await inRedis(ref)).toBe(false);

    const resumed = await openSubscription(hana.caller.events.subscribe({ projectId: project.id, lastEventId: ready!.id }));
    const got = await resumed.drain(1500);
    await resumed.close();
    expect(got.filter((e) => e.event.type === 'resync')).toHaveLength(1);
    expect((await allMessages(hana, ref)).map((m) => m.content)).toEqual(Array.from({ length: 40 }, (_, i) => `m ${i}`));
  });

  it('an eviction between copying the messages back and clearing the mark leaves the mark (read again next time)', async () => {
    const ivan = await env.h.user();
    const { project, ref1 } = await projectWithTwoSessions(ivan);
    const one = await allMessages(ivan, ref1);
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    expect(await env.h.durable.evictIdleSessions()).toBeGreaterThanOrEqual(2);
    // As the last step of a read-through whose copied messages an eviction pass removed meanwhile.
    const cleared = await scripts.hydrateSession.run(env.h.redis, {
      projectId: project.id,
      sessionId: ref1.sessionId,
      activityMs: Date.now(),
      record: { id: ref1.sessionId },
    });
    expect(cleared).toBe('whole');
    expect(await env.h.redis.hget(keys.session(project.id, ref1.sessionId), 'evicted')).toBe('1');
    expect(await allMessages(ivan, ref1)).toEqual(one);
    expect(await env.h.redis.hget(keys.session(project.id, ref1.sessionId), 'evicted')).toBeNull();
  });
});

describe('idle time is counted in whole seconds', () => {
  it('keeps a session read just before a second boundary when the pass runs just after it', async () => {
    const erin = await env.h.user();
    const project = await erin.caller.project.create({ name: 'Granularity' });
    const s = await erin.caller.session.create({ projectId: project.id, title: 'Hot' });
    const ref = { projectId: project.id, sessionId: s.id };
    for (let i = 0; i < 3; i++) await erin.caller.message.send({ ...ref, id: randomUUID(), content: `m ${i}` });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');
    await untilIdle();
    // Redis's idle clock ticks at second boundaries: a read at x.9 s looks a whole second old at
    // (x+1).05 s. With IDLE_SECONDS = 1 that read would not protect the session; with 2 it does.
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while (Date.now() % 1000 < 880) await sleep(5);
    await erin.caller.message.list({ ...ref, limit: 20 });
    while (Date.now() % 1000 > 500) await sleep(5);
    await sleep(30);
    await env.h.durable.evictIdleSessions();
    expect(await inRedis(ref)).toBe(true);
  });
});

describe('without SESSION_IDLE_EVICT_SECONDS', () => {
  it('never evicts anything', async () => {
    const plain = createDurableHarness({ redisUrl: env.server.url, databaseUrl: env.db.url });
    try {
      const dave = await plain.user();
      const { ref1, ref2 } = await projectWithTwoSessions(dave);
      await waitFor(async () => (await outboxLag(plain.redis)).entries === 0, 10_000, 'everything persisted');
      await untilIdle();
      expect(await plain.durable.evictIdleSessions()).toBe(0);
      expect(await inRedis(ref1)).toBe(true);
      expect(await inRedis(ref2)).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
