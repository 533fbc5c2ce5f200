/**
 * The partitioned outbox on a real Redis Cluster (issue 13), in the cluster pass of `npm test` only
 * (PARLEY_TEST_REDIS=cluster: the run's shared 3-master cluster, and a PostgreSQL database of this
 * file's own). Every write appends to the outbox partition of its own slot, so:
 *   - writes in 20 projects spread over every master reach PostgreSQL exactly once;
 *   - a consumer killed mid-batch leaves its entries pending, and another reclaims them;
 *   - the single `parley:outbox` of older releases (with entries pending for a consumer that is gone)
 *     is drained on upgrade beside the partitions, and an older version left there never overwrites
 *     a newer one from a partition.
 * Every wait is on a condition.
 */
import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { outboxPartitionOf } from '~/server/redis/outbox-partitions';
import { createDurableHarness, outboxPending, type DurableHarness } from '~/server/testing/durable';
import { createTestDatabase, startTcpProxy, type TestDatabase } from '~/server/testing/postgres';
import type { SessionRef, TestUser } from '~/server/testing/harness';
import { projectWithSession } from '~/server/testing/harness';
import { messageKeys } from '~/server/testing/stored-bodies';
import { waitFor } from '~/server/testing/wait';
import { OUTBOX_GROUP } from './consumer';
import { createPool } from './pg';
import { outboxLag } from './tier';

describe.runIf(process.env.PARLEY_TEST_REDIS === 'cluster')('the durable outbox on a Redis Cluster', () => {
  let db: TestDatabase;
  let h: DurableHarness;
  let alice: TestUser;

  beforeAll(async () => {
    db = await createTestDatabase();
    h = createDurableHarness({ redisUrl: inject('redisUrl'), databaseUrl: db.url });
    alice = await h.user();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  const drained = async () => (await outboxLag(h.redis)).entries === 0;

  /** The master serving a key's slot now (ioredis' slot table). */
  const masterOf = (key: string) => (h.redis as unknown as Cluster).slots[calculateSlot(key)]?.[0];

  async function pgMessageIds(projectId: string): Promise<string[]> {
    const r = await h.pool.query<{ id: string }>('SELECT id FROM messages WHERE project_id = $1', [projectId]);
    return r.rows.map((row) => row.id);
  }

  it('writes in 20 projects over every master reach PostgreSQL exactly once', async () => {
    const refs: SessionRef[] = [];
    for (let i = 0; i < 20; i++) refs.push(await projectWithSession(alice, { project: `P${i}` }));
    const masters = new Set(refs.map((r) => masterOf(keys.project(r.projectId))));
    expect(masters.size).toBe(3);
    // Each project's partition is in its own slot (so its writes could append to it in their script).
    for (const r of refs) expect(calculateSlot(outboxPartitionOf(keys.project(r.projectId)))).toBe(calculateSlot(keys.project(r.projectId)));

    const sent = new Map<string, string[]>();
    await Promise.all(
      refs.map(async (ref) => {
        const ids: string[] = [];
        for (let i = 0; i < 15; i++) ids.push((await alice.caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` })).id);
        sent.set(ref.projectId, ids);
      }),
    );
    const produced = (await outboxLag(h.redis)).entries;
    expect(produced).toBeGreaterThanOrEqual(20 * 15);

    const [c1, c2] = await Promise.all([h.consumer({ batchSize: 40 }), h.consumer({ batchSize: 40 })]);
    await waitFor(drained, 30_000, 'every partition drained');
    // Counted after each ack: wait for the last count, then require it exact (more = applied twice).
    const persisted = () => c1.snapshot().persisted + c2.snapshot().persisted;
    await waitFor(() => persisted() >= produced, 10_000, 'every persisted batch counted');
    expect(persisted()).toBe(produced);
    for (const ref of refs) expect((await pgMessageIds(ref.projectId)).sort()).toEqual([...sent.get(ref.projectId)!].sort());
    const users = await h.pool.query('SELECT 1 FROM users WHERE id = $1', [alice.id]);
    expect(users.rowCount).toBe(1);
    expect((await outboxPending(h.redis)).total).toBe(0);
    await Promise.all([c1.stop(), c2.stop()]);
  });

  it('reclaims what a consumer killed mid-batch held', async () => {
    const refs = await Promise.all(Array.from({ length: 6 }, (_, i) => projectWithSession(alice, { project: `K${i}` })));
    const ids = (
      await Promise.all(
        refs.flatMap((ref) => Array.from({ length: 20 }, (_, i) => alice.caller.message.send({ ...ref, id: randomUUID(), content: `k${i}` }))),
      )
    ).map((m) => m.id);
    // Consumer A reaches PostgreSQL through a proxy that is closed: it reads a batch it cannot persist...
    const cut = await startTcpProxy(5432);
    await cut.close();
    const poolA = createPool(db.urlVia(cut.port), { max: 2 });
    const a = await h.consumer({ pool: poolA, batchSize: 500 });
    await waitFor(async () => ((await outboxPending(h.redis)).byConsumer.get(a.name) ?? 0) > 0, 10_000, 'A holding entries');
    // ...and dies without acknowledging it.
    await a.kill();
    await poolA.end().catch(() => undefined);

    const b = await h.consumer({ claimIdleMs: 500 });
    await waitFor(drained, 20_000, 'drained by B');
    expect(b.snapshot().reclaimed).toBeGreaterThan(0);
    const stored = (await Promise.all(refs.map((r) => pgMessageIds(r.projectId)))).flat();
    expect(stored.sort()).toEqual(ids.sort());
    expect((await outboxPending(h.redis)).total).toBe(0);
    await b.stop();
  });

  it('drains the single outbox of an older release on upgrade, pending entries included, newest version winning', async () => {
    const old = await projectWithSession(alice, { project: 'Before the upgrade' });
    const fresh = await projectWithSession(alice, { project: 'After the upgrade' });
    const oldIds: string[] = [];
    for (let i = 0; i < 12; i++) oldIds.push((await alice.caller.message.send({ ...old, id: randomUUID(), content: `old ${i}` })).id);
    // What an older release left: this project's changes in `parley:outbox` instead of its partition
    // (same ids, so the same versions), moved there before any consumer of this release ran.
    const partition = outboxPartitionOf(keys.project(old.projectId));
    const entries = (await h.redis.xrange(partition, '-', '+')) as Array<[string, string[]]>;
    expect(entries.length).toBeGreaterThanOrEqual(12);
    for (const [id, fields] of entries) await h.redis.xadd(keys.outboxLegacy, id, ...fields);
    await h.redis.del(partition);
    // Part of it delivered to a consumer of the old release that then went away (never acknowledged).
    await h.redis.xgroup('CREATE', keys.outboxLegacy, OUTBOX_GROUP, '0');
    await h.redis.xreadgroup('GROUP', OUTBOX_GROUP, 'old-release', 'COUNT', 5, 'STREAMS', keys.outboxLegacy, '>');

    // After the upgrade: an edit of a message the legacy outbox still carries (a newer version, in the
    // partition), and writes to another project.
    await alice.caller.message.edit({ ...old, id: oldIds[0]!, content: 'edited after the upgrade' });
    const freshIds: string[] = [];
    for (let i = 0; i < 5; i++) freshIds.push((await alice.caller.message.send({ ...fresh, id: randomUUID(), content: `new ${i}` })).id);

    const c = await h.consumer({ claimIdleMs: 500 });
    await waitFor(async () => (await drained()) && (await outboxPending(h.redis)).total === 0, 20_000, 'legacy outbox and partitions drained');
    // Drained, then deleted (retired at the consumer's next discovery).
    await waitFor(async () => (await h.redis.exists(keys.outboxLegacy)) === 0, 10_000, 'the drained legacy outbox deleted');
    expect(c.snapshot().reclaimed).toBeGreaterThanOrEqual(5);
    expect((await pgMessageIds(old.projectId)).sort()).toEqual([...oldIds].sort());
    expect((await pgMessageIds(fresh.projectId)).sort()).toEqual([...freshIds].sort());
    const edited = await h.pool.query<{ content: string; is_edited: boolean }>('SELECT content, is_edited FROM messages WHERE id = $1', [oldIds[0]]);
    expect(edited.rows[0]).toEqual({ content: 'edited after the upgrade', is_edited: true });
    await c.stop();
  });

  it('brings a session Redis lost back in one transaction on its master, a page or a send riding along', async () => {
    const ref = await projectWithSession(alice, { project: 'Lost on a cluster' });
    for (let i = 0; i < 8; i++) await alice.caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` });
    const warm = await h.durable.store.listMessages({ ...ref, limit: 5 });
    const consumer = await h.consumer();
    await waitFor(drained, 30_000, 'every partition drained');
    const lose = async () =>
      h.redis.del(keys.session(ref.projectId, ref.sessionId), ...(await messageKeys(h.redis, ref.projectId, ref.sessionId)));

    await lose();
    expect(await h.durable.store.listMessages({ ...ref, limit: 5 })).toEqual(warm);
    await lose();
    const sent = await h.durable.store.appendMessage({ ...ref, id: randomUUID(), content: 'm8', author: { id: alice.id, username: alice.username } });
    expect(sent.message.seq).toBe(9);
    expect((await h.durable.store.listMessages({ ...ref, limit: 20 })).items.map((m) => m.content)).toEqual(
      Array.from({ length: 9 }, (_, i) => `m${i}`),
    );
    await waitFor(drained, 30_000, 'the send persisted');
    expect(await pgMessageIds(ref.projectId)).toContain(sent.message.id);
    await consumer.stop();
  });
});
