/**
 * Write-behind (tier 2) against a real Redis (a cluster on the cluster pass) and a real PostgreSQL database of this file's
 * own: every acknowledged change reaches PostgreSQL through the outbox and the consumer group, also
 * when a consumer dies mid-batch or PostgreSQL is unreachable for a while; nothing is applied twice
 * or out of order; poison entries end in the dead-letter stream.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { scripts } from '~/server/redis/scripts';
import { createHarness, projectWithSession, addToProject } from '~/server/testing/harness';
import { createDurableHarness, outboxDeadLetters, outboxPending, type DurableHarness } from '~/server/testing/durable';
import { outboxPartitionOf, outboxStreams } from '~/server/redis/outbox-partitions';
import { keyspaceNodes } from '~/server/redis/cluster';
import { createTestDatabase, startTcpProxy, type TcpProxy, type TestDatabase } from '~/server/testing/postgres';
import { startOwnRedis, type OwnRedis } from '~/server/testing/own-redis';
import { waitFor } from '~/server/testing/wait';
import type { TestUser } from '~/server/testing/harness';
import { backfillOutbox } from './backfill';
import { persistEntries } from './persist';
import { outboxLag } from './tier';
import { createPool, transaction } from './pg';

let server: OwnRedis;
let db: TestDatabase;
let proxy: TcpProxy;
let h: DurableHarness;
let alice: TestUser;

beforeAll(async () => {
  [server, db] = await Promise.all([startOwnRedis(), createTestDatabase()]);
  // The app reaches PostgreSQL through a proxy this file can cut (PostgreSQL "down") and restore.
  proxy = await startTcpProxy(5432);
  h = createDurableHarness({ redisUrl: server.url, databaseUrl: db.urlVia(proxy.port) });
  alice = await h.user();
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await server?.destroy();
  await db?.drop();
});

const drained = async () => (await outboxLag(h.redis)).entries === 0;

async function pgMessages(sessionId: string) {
  const r = await h.pool.query<{ id: string; seq: number; content: string; deleted: boolean; is_edited: boolean }>(
    'SELECT id, seq, content, deleted, is_edited FROM messages WHERE session_id = $1 ORDER BY seq',
    [sessionId],
  );
  return r.rows;
}

describe('with the durable tier off', () => {
  it('writes nothing to the outbox', async () => {
    const plain = createHarness(); // the run's shared Redis, no DATABASE_URL
    try {
      const bob = await plain.user();
      const ref = await projectWithSession(bob);
      await bob.caller.message.send({ ...ref, id: randomUUID(), content: 'redis only' });
      expect(await plain.redis.exists(outboxPartitionOf(keys.project(ref.projectId)))).toBe(0);
      expect(plain.durable).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe('write-behind', () => {
  it('persists every acknowledged change: accounts, projects, members, sessions, messages, edits', async () => {
    const bob = await h.user();
    const ref = await projectWithSession(alice);
    await addToProject(alice, ref.projectId, bob);
    await alice.caller.session.update({ ...ref, title: 'Renamed', status: 'archived' });
    const sent = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        (i % 2 ? alice : bob).caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` }),
      ),
    );
    const [first, second, third] = sent.sort((a, b) => a.seq - b.seq);
    const author = (m: typeof first) => (m!.authorId === alice.id ? alice : bob);
    await author(first).caller.message.edit({ ...ref, id: first!.id, content: 'edited' });
    await author(second).caller.message.delete({ ...ref, id: second!.id });
    await alice.caller.message.react({ ...ref, id: third!.id, emoji: '👍' });

    const consumer = await h.consumer();
    await waitFor(drained, 15_000, 'outbox drained');
    await consumer.stop();

    const rows = await pgMessages(ref.sessionId);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(sent.map((m) => m.id)));
    expect(rows[0]).toMatchObject({ content: 'edited', is_edited: true });
    expect(rows[1]).toMatchObject({ content: '', deleted: true });
    const reacted = await h.pool.query<{ reactions: unknown }>('SELECT reactions FROM messages WHERE id = $1', [third!.id]);
    expect(reacted.rows[0]?.reactions).toEqual([{ emoji: '👍', userId: alice.id }]);

    const session = await h.pool.query('SELECT title, status FROM sessions WHERE id = $1', [ref.sessionId]);
    expect(session.rows[0]).toEqual({ title: 'Renamed', status: 'archived' });
    const members = await h.pool.query('SELECT user_id FROM project_members WHERE project_id = $1 ORDER BY user_id', [
      ref.projectId,
    ]);
    expect(members.rows.map((r: { user_id: string }) => r.user_id)).toEqual([alice.id, bob.id].sort());
    const users = await h.pool.query<{ username: string; password_hash: string }>(
      'SELECT username, password_hash FROM users WHERE id = $1',
      [bob.id],
    );
    expect(users.rows[0]?.username).toBe(bob.username);
    expect(users.rows[0]?.password_hash).toMatch(/^\$argon2id\$/);
    const logins = await h.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM login_sessions WHERE user_id = $1', [bob.id]);
    expect(logins.rows[0]?.n).toBe(1);
    // Everything acknowledged and deleted: nothing pending in the group.
    expect((await outboxPending(h.redis)).total).toBe(0);
  });

  it('loses nothing when a consumer dies mid-batch: another one reclaims its entries', async () => {
    const ref = await projectWithSession(alice);
    // Consumer A reads through a proxy we then cut, so it holds a batch it cannot persist...
    const cut = await startTcpProxy(5432);
    const poolA = createPool(db.urlVia(cut.port), { max: 2 });
    const ids = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => (await alice.caller.message.send({ ...ref, id: randomUUID(), content: `c${i}` })).id),
    );
    await cut.close();
    const a = await h.consumer({ pool: poolA, batchSize: 500 });
    await waitFor(async () => {
      return ((await outboxPending(h.redis)).byConsumer.get(a.name) ?? 0) > 0;
    }, 5000, 'consumer A holding entries');
    // ...and dies without acknowledging them.
    await a.kill();
    await poolA.end().catch(() => undefined);

    const b = await h.consumer({ claimIdleMs: 500 });
    await waitFor(drained, 15_000, 'outbox drained by B');
    expect(b.snapshot().reclaimed).toBeGreaterThan(0);
    const rows = await pgMessages(ref.sessionId);
    expect(rows).toHaveLength(150);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    await b.stop();
  });

  it('keeps sending while PostgreSQL is unreachable, then drains the backlog with nothing lost', async () => {
    const consumer = await h.consumer();
    const ref = await projectWithSession(alice);
    await waitFor(drained, 10_000, 'outbox drained before the outage');

    await proxy.close();
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => (await alice.caller.message.send({ ...ref, id: randomUUID(), content: `o${i}` })).id),
    );
    // Sends never wait for PostgreSQL (generous bound: far below any retry or connect timeout).
    expect(Date.now() - started).toBeLessThan(5000);
    const lag = await outboxLag(h.redis);
    expect(lag.entries).toBeGreaterThanOrEqual(200);
    const stats = await h.durable.stats();
    expect(stats.postgres).toBe('down');
    expect(stats.outbox?.entries).toBeGreaterThanOrEqual(200);

    await proxy.open();
    await waitFor(drained, 20_000, 'backlog drained after PostgreSQL returned');
    const rows = await pgMessages(ref.sessionId);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    expect(consumer.snapshot().deadLettered).toBe(0);
    expect(await outboxDeadLetters(h.redis)).toEqual([]);
    await consumer.stop();
  });

  it('shares the work between consumers without applying anything twice', async () => {
    const ref = await projectWithSession(alice);
    await Promise.all(Array.from({ length: 400 }, (_, i) => alice.caller.message.send({ ...ref, id: randomUUID(), content: `s${i}` })));
    const produced = (await outboxLag(h.redis)).entries;
    const [c1, c2] = await Promise.all([h.consumer({ batchSize: 25 }), h.consumer({ batchSize: 25 })]);
    await waitFor(drained, 15_000, 'outbox drained by two consumers');
    // A consumer counts a batch after acknowledging and deleting it, so the last batch (402 = 16 x 25
    // + 2) may still be uncounted when the stream is already empty: wait for the counts to arrive,
    // then require them to be exact (more would mean something was applied twice).
    const persisted = () => c1.snapshot().persisted + c2.snapshot().persisted;
    await waitFor(() => persisted() >= produced, 10_000, 'every persisted batch counted');
    const [s1, s2] = [c1.snapshot(), c2.snapshot()];
    expect(s1.persisted).toBeGreaterThan(0);
    expect(s2.persisted).toBeGreaterThan(0);
    expect(s1.persisted + s2.persisted).toBe(produced);
    expect(await pgMessages(ref.sessionId)).toHaveLength(400);
    await Promise.all([c1.stop(), c2.stop()]);
  });

  it('moves poison entries to the dead-letter stream and persists the rest', async () => {
    const ref = await projectWithSession(alice);
    const good = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'fine' });
    await h.redis.xadd(keys.outboxLegacy, '*', 'k', 'message', 'p', ref.projectId, 's', ref.sessionId, 'q', '99', 'd', '{not json');
    const violating = JSON.stringify({ id: randomUUID(), authorId: alice.id, authorName: 'x', role: 'robot', content: 'c', createdAt: new Date().toISOString() });
    await h.redis.xadd(keys.outboxLegacy, '*', 'k', 'message', 'p', ref.projectId, 's', ref.sessionId, 'q', '98', 'd', violating);
    await h.redis.xadd(keys.outboxLegacy, '*', 'k', 'gossip');
    const after = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'also fine' });

    const consumer = await h.consumer({ maxDeliveries: 3 });
    await waitFor(drained, 15_000, 'outbox drained');
    expect((await pgMessages(ref.sessionId)).map((r) => r.id)).toEqual([good.id, after.id]);
    const dead = await outboxDeadLetters(h.redis);
    expect(dead).toHaveLength(3);
    const errors = dead.map(([, f]) => f[f.indexOf('error') + 1]);
    expect(errors.some((e) => e?.includes('not JSON'))).toBe(true);
    expect(errors.some((e) => e?.includes('messages_role_check'))).toBe(true);
    expect(errors.some((e) => e?.includes('unknown kind'))).toBe(true);
    expect((await h.durable.stats()).outbox?.deadLetters).toBe(3);
    await consumer.stop();
  });
});

describe('leaving a project (issue 14 item 6)', () => {
  it('reaches PostgreSQL, and a re-hydration meanwhile does not make the member again', async () => {
    const [owner, guest] = [await h.user(), await h.user()];
    const ref = await projectWithSession(owner);
    await addToProject(owner, ref.projectId, guest);
    let consumer = await h.consumer();
    await waitFor(drained, 15_000, 'membership persisted');
    await consumer.stop();
    const pgMembers = async () =>
      (await h.pool.query<{ user_id: string }>('SELECT user_id FROM project_members WHERE project_id = $1', [ref.projectId])).rows
        .map((r) => r.user_id)
        .sort();
    expect(await pgMembers()).toEqual([owner.id, guest.id].sort());

    await guest.caller.project.leave({ projectId: ref.projectId });
    // PostgreSQL still lists them (the removal waits in the outbox); the membership check reads
    // through to it and re-hydrates the project, which must not re-add who left.
    expect(await pgMembers()).toEqual([owner.id, guest.id].sort());
    await expect(guest.caller.project.get({ projectId: ref.projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await h.redis.sismember(keys.members(ref.projectId), guest.id)).toBe(0);
    expect(await guest.caller.project.list()).toEqual([]);

    consumer = await h.consumer();
    await waitFor(drained, 15_000, 'removal persisted');
    await consumer.stop();
    expect(await pgMembers()).toEqual([owner.id]);
  });
});

describe('switching the tier on for a Redis that already holds data', () => {
  it('backfills accounts, logins, projects, members, sessions and messages, once', async () => {
    // Written with the tier off (no outbox), on this file's Redis.
    const plain = createHarness(server.url);
    try {
      const [carol, dan] = await Promise.all([plain.user(), plain.user()]);
      const ref = await projectWithSession(carol, { project: 'Durable', session: 'Ops' });
      await addToProject(carol, ref.projectId, dan);
      const sent = [];
      for (let i = 0; i < 30; i++) sent.push(await dan.caller.message.send({ ...ref, id: randomUUID(), content: `old ${i}` }));
      await dan.caller.message.edit({ ...ref, id: sent[0]!.id, content: 'old, edited' });
      expect((await outboxLag(h.redis)).entries).toBe(0);

      const result = await backfillOutbox(h.redis, { force: true });
      expect(result?.projects).toBeGreaterThanOrEqual(1);
      expect(result?.messages).toBeGreaterThanOrEqual(30);
      expect(await backfillOutbox(h.redis)).toBeNull(); // once per dataset
      const consumer = await h.consumer();
      await waitFor(drained, 15_000, 'backfill persisted');
      await consumer.stop();

      const rows = await pgMessages(ref.sessionId);
      expect(rows.map((r) => r.id)).toEqual(sent.map((m) => m.id));
      expect(rows[0]).toMatchObject({ content: 'old, edited', is_edited: true });
      const members = await h.pool.query<{ user_id: string }>('SELECT user_id FROM project_members WHERE project_id = $1', [ref.projectId]);
      expect(members.rows.map((r) => r.user_id).sort()).toEqual([carol.id, dan.id].sort());
      const users = await h.pool.query<{ id: string }>('SELECT id FROM users WHERE id = ANY($1::uuid[])', [[carol.id, dan.id]]);
      expect(users.rows).toHaveLength(2);
      const logins = await h.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM login_sessions WHERE user_id = ANY($1::uuid[])', [
        [carol.id, dan.id],
      ]);
      expect(logins.rows[0]?.n).toBe(2);
      const session = await h.pool.query<{ title: string }>('SELECT title FROM sessions WHERE id = $1', [ref.sessionId]);
      expect(session.rows[0]?.title).toBe('Ops');
    } finally {
      await plain.close();
    }
  });
});

describe('the single outbox of an older release (parley:outbox)', () => {
  const legacyExists = async () => (await h.redis.exists(keys.outboxLegacy)) === 1;

  /** Moves a message's change from its partition to the legacy outbox, as an old-release writer appends it. */
  async function moveToLegacy(ref: { projectId: string; sessionId: string }, seq: number): Promise<void> {
    const partition = outboxPartitionOf(keys.project(ref.projectId));
    const entries = (await h.redis.xrange(partition, '-', '+')) as Array<[string, string[]]>;
    const field = (f: string[], name: string) => f[f.indexOf(name) + 1];
    const mine = entries.filter(([, f]) => field(f, 'k') === 'message' && field(f, 's') === ref.sessionId && field(f, 'q') === String(seq));
    expect(mine).toHaveLength(1);
    const [id, fields] = mine[0]!;
    await h.redis.xdel(partition, id);
    await h.redis.xadd(keys.outboxLegacy, '*', ...fields);
  }

  it('is deleted only when it holds no entry and nothing is pending', async () => {
    // From scratch: an earlier test's consumer may have stopped before retiring the one it drained.
    await h.redis.del(keys.outboxLegacy);
    await h.redis.xadd(keys.outboxLegacy, '*', 'k', 'gossip');
    expect(await scripts.retireLegacyOutbox.run(h.redis, {})).toBe(false); // an entry
    await h.redis.xgroup('CREATE', keys.outboxLegacy, 'parley-postgres', '0');
    // Delivered to a consumer that went away, then deleted without an acknowledgement.
    const reply = (await h.redis.xreadgroup('GROUP', 'parley-postgres', 'gone', 'STREAMS', keys.outboxLegacy, '>')) as Array<
      [string, Array<[string, string[]]>]
    >;
    const id = reply[0]![1][0]![0];
    await h.redis.xdel(keys.outboxLegacy, id);
    expect(await h.redis.xlen(keys.outboxLegacy)).toBe(0);
    expect(await scripts.retireLegacyOutbox.run(h.redis, {})).toBe(false); // delivered, not acknowledged
    expect(await legacyExists()).toBe(true);
    await h.redis.xack(keys.outboxLegacy, 'parley-postgres', id);
    expect(await scripts.retireLegacyOutbox.run(h.redis, {})).toBe(true);
    expect(await legacyExists()).toBe(false);
    expect(await scripts.retireLegacyOutbox.run(h.redis, {})).toBe(false); // absent: nothing to do
  });

  it('is deleted once drained, and drained again when a straggling old-release writer recreates it', async () => {
    const ref = await projectWithSession(alice);
    const first = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'written by the old release' });
    await moveToLegacy(ref, first.seq);
    let consumer = await h.consumer();
    await waitFor(async () => (await drained()) && !(await legacyExists()), 15_000, 'legacy outbox drained and deleted');
    expect((await pgMessages(ref.sessionId)).map((r) => r.id)).toEqual([first.id]);
    await consumer.stop();

    // An old-release instance still running appends again: the stream comes back, with its group gone.
    const late = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'a straggler' });
    await moveToLegacy(ref, late.seq);
    expect(await legacyExists()).toBe(true);
    consumer = await h.consumer();
    await waitFor(async () => (await drained()) && !(await legacyExists()), 15_000, 'recreated legacy outbox drained and deleted');
    expect((await pgMessages(ref.sessionId)).map((r) => r.id)).toEqual([first.id, late.id]);
    await consumer.stop();
  });
});

describe('an idle consumer over many partitions', () => {
  it('reads cold partitions rarely, in one round trip per master, and still persists a late write to one', async () => {
    const ref = await projectWithSession(alice);
    const sent = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'copied into many partitions' });
    const partition = outboxPartitionOf(keys.project(ref.projectId));
    const field = (f: string[], name: string) => f[f.indexOf(name) + 1];
    const [, fields] = ((await h.redis.xrange(partition, '-', '+')) as Array<[string, string[]]>).find(
      ([, f]) => field(f, 'k') === 'message' && field(f, 'q') === String(sent.seq),
    )!;
    // Partitions written by "another process" (plain XADDs: this one does not know them until its SCAN),
    // each holding a copy of the same change (applying it again changes nothing).
    const tags = Array.from({ length: 200 }, (_, i) => `idle-${i}`);
    for (const tag of tags) await h.redis.xadd(outboxPartitionOf(tag), '*', ...fields);

    const coldPollRounds = 8;
    // Reclaims only at the start (claimIdleMs far away), so every round trip counted below is a read.
    const consumer = await h.consumer({ blockMs: 20, coldPollRounds, claimIdleMs: 600_000 });
    await waitFor(drained, 15_000, 'every partition drained');
    const partitions = (await outboxStreams(h.redis)).length;
    expect(partitions).toBeGreaterThan(150);
    const masters = keyspaceNodes(h.redis).length;

    const rounds = 10 * coldPollRounds;
    const before = consumer.snapshot();
    await waitFor(() => consumer.snapshot().rounds >= before.rounds + rounds, 30_000, `${rounds} more rounds`);
    const after = consumer.snapshot();
    const elapsed = after.rounds - before.rounds;
    console.log(
      `idle consumer: ${partitions} partitions, ${masters} master(s), ${elapsed} rounds: ` +
        `${after.reads - before.reads} XREADGROUPs (${partitions * elapsed} if every partition every round), ${after.roundTrips - before.roundTrips} round trips`,
    );
    // Every partition every round would be partitions x rounds reads. Backed off: each partition at most
    // every coldPollRounds-th round, plus the few reads of its way there (1, 2, 4 rounds apart).
    expect(after.reads - before.reads).toBeLessThanOrEqual(partitions * (Math.ceil(elapsed / coldPollRounds) + 4));
    expect(after.reads - before.reads).toBeLessThan((partitions * elapsed) / 4);
    // And batched: at most one pipeline per master in a round, however many partitions it reads.
    expect(after.roundTrips - before.roundTrips).toBeLessThanOrEqual(elapsed * masters);

    // Another process writes to a cold partition: persisted without this process having written there.
    const persisted = consumer.snapshot().persisted;
    await h.redis.xadd(outboxPartitionOf(tags[7]!), '*', ...fields);
    await waitFor(async () => (await drained()) && consumer.snapshot().persisted > persisted, 15_000, 'the late write persisted');
    await consumer.stop();
  });
});

describe('idempotent upserts', () => {
  const body = (id: string, content: string, extra: Record<string, unknown> = {}) => ({
    id,
    authorId: randomUUID(),
    authorName: 'a',
    role: 'user' as const,
    content,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  });
  const entry = (id: string, projectId: string, sessionId: string, seq: number, message: ReturnType<typeof body>) => ({
    id,
    change: { kind: 'message' as const, projectId, sessionId, seq, message },
  });

  it('never lets an older version overwrite a newer one, and applying twice changes nothing', async () => {
    const [pid, sid, mid] = [randomUUID(), randomUUID(), randomUUID()];
    const newer = entry('2000-1', pid, sid, 1, body(mid, 'v2', { isEdited: true }));
    const older = entry('1000-1', pid, sid, 1, body(mid, 'v1'));
    await transaction(h.pool, (tx) => persistEntries(tx, [newer]));
    await transaction(h.pool, (tx) => persistEntries(tx, [older, newer, older]));
    expect(await pgMessages(sid)).toEqual([{ id: mid, seq: 1, content: 'v2', deleted: false, is_edited: true }]);
  });

  it('gives a (session, seq) slot to the newer message and keeps the displaced one aside', async () => {
    // Redis lost a write PostgreSQL had, then gave its seq to another message.
    const [pid, sid, lost, reused] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await transaction(h.pool, (tx) => persistEntries(tx, [entry('1000-0', pid, sid, 7, body(lost, 'lost'))]));
    await transaction(h.pool, (tx) => persistEntries(tx, [entry('2000-0', pid, sid, 7, body(reused, 'reused'))]));
    // A late copy of the older one changes nothing.
    await transaction(h.pool, (tx) => persistEntries(tx, [entry('1000-0', pid, sid, 7, body(lost, 'lost'))]));
    expect((await pgMessages(sid)).map((r) => r.id)).toEqual([reused]);
    const conflicts = await h.pool.query('SELECT DISTINCT id FROM message_conflicts WHERE session_id = $1', [sid]);
    expect(conflicts.rows).toEqual([{ id: lost }]);
  });
});
