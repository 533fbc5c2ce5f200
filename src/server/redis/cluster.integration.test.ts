/**
 * Scale-out on a real Redis Cluster (issue 13): a cluster of this file's own (3 masters + 3 replicas;
 * it kills a master and moves a slot, so it cannot be the run's shared one) and TWO app processes on it
 * (src/server/testing/fault-server.ts, the real tRPC + SSE stack). One user, 20 projects spread over
 * every master, a subscriber per project on each app, a sender per project alternating between the
 * apps. Mid-run a master is killed (SIGKILL; its replica is promoted, then it comes back as a replica)
 * and later a slot holding a project moves to another master while its project is being written. Then:
 *   - every acknowledged send is in Redis exactly once, seqs gap-free;
 *   - every subscriber on both apps got each of its project's messages exactly once, in log order,
 *     with no resync.
 * Acknowledged writes survive the failover because every write script waits for a replica
 * (REDIS_WAIT_REPLICAS=1) before it is acknowledged.
 *
 * Runs in the cluster pass of `npm test` only (PARLEY_TEST_REDIS=cluster); every wait is on a condition.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clusterNodeInfo,
  migrateSlot,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '../../../scripts/lib/redis-server.mjs';
import { compareEventIds } from '~/shared/event-id';
import { ChatStore } from '~/server/chat/store';
import { createRedis } from '~/server/redis/client';
import { keys } from '~/server/redis/keys';
import { callUntilServed, sender, startAppProcess, subscribe, type AppProcess } from '~/server/testing/app-process';
import { waitFor } from '~/server/testing/wait';

const PROJECTS = 20;
/** Sends acknowledged between two steps of the run (traffic flows before and after each fault). */
const SENDS_PER_STEP = 60;

describe.runIf(process.env.PARLEY_TEST_REDIS === 'cluster')('two app instances on a real Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodesList,
      // One user holds a stream per project on each app.
      SSE_MAX_PER_USER: '100',
      // One user sends as fast as the machine allows for a minute or more: on a quiet machine that is
      // over the per-user send limits (6,000 per 10 minutes), which this test is not about.
      LIMIT_SEND_PER_10S: '0',
      LIMIT_SEND_PER_10MIN: '0',
    };
    // One after the other: two TypeScript servers compiling at once on 2 cores only start slower.
    apps.push(await startAppProcess(env));
    apps.push(await startAppProcess(env));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await cluster?.destroy();
  });

  /** The masters now (roles change with failover), by role as each node reports it. */
  async function masters(): Promise<RedisServerHandle[]> {
    const running = cluster.nodes.filter((n) => n.isRunning());
    const infos = await Promise.all(running.map(clusterNodeInfo));
    return running.filter((_, i) => infos[i]?.role === 'master');
  }

  it('20 projects over all masters, sends through both apps, a master killed and a slot moved: every event once, in order', async () => {
    const redis = createRedis(cluster.url);
    const raw = redis as unknown as Cluster;
    try {
      const signUp = await callUntilServed<{ id: string }>(apps[0]!.baseUrl, 'auth.signUp', {
        username: `c${randomUUID().slice(0, 8)}`,
        password: 'correct horse battery',
      });
      const cookie = signUp.setCookie.map((c) => c.split(';')[0]).join('; ');
      const refs: { projectId: string; sessionId: string }[] = [];
      for (let i = 0; i < PROJECTS; i++) {
        const base = apps[i % 2]!.baseUrl;
        const project = (await callUntilServed<{ id: string }>(base, 'project.create', { name: `P${i}` }, cookie)).data;
        const session = (await callUntilServed<{ id: string }>(base, 'session.create', { projectId: project.id, title: 'Room' }, cookie)).data;
        refs.push({ projectId: project.id, sessionId: session.id });
      }
      // Spread over every master (20 random ids miss one of 3 masters with probability 3 x (2/3)^20).
      const slotOf = async (pid: string) => Number(await raw.cluster('KEYSLOT', keys.project(pid)));
      const slots = await Promise.all(refs.map((r) => slotOf(r.projectId)));
      const masterOf = (slot: number) => raw.slots[slot]?.[0];
      expect(new Set(slots.map(masterOf)).size).toBe(3);

      const subscribers = refs.map((ref, i) => apps.map((app) => ({ i, sub: subscribe(app.baseUrl, ref.projectId, cookie) }))).flat();
      await waitFor(() => subscribers.every((s) => s.sub.eventIds.length > 0), 60_000, 'every subscriber to be ready');
      const senders = refs.map((ref, i) => sender(apps[i % 2]!.baseUrl, ref, cookie, `p${i}`));
      const acked = () => senders.reduce((n, s) => n + s.acknowledged.length, 0);
      const flows = async (what: string) => {
        const from = acked();
        await waitFor(() => acked() >= from + SENDS_PER_STEP, 60_000, `sends to flow ${what}`);
      };
      await flows('at first');

      // 1. Kill the master of project 0's slot; its replica takes over; the old master returns as a replica.
      const victim = (await masters()).find((m) => `127.0.0.1:${m.port}` === masterOf(slots[0]!));
      expect(victim, 'the master of project 0').toBeDefined();
      await victim!.kill();
      await waitFor(async () => (await masters()).length === 3, 60_000, 'a replica to be promoted');
      await cluster.waitHealthy();
      await flows('after the failover');
      await victim!.restart();
      await cluster.waitHealthy();
      await flows('with the old master back as a replica');

      // 2. Move project 1's slot to another master while it is written.
      const now = await masters();
      const slot = slots[1]!;
      // Who serves it now, as the cluster says (the client's slot map may lag by one refresh).
      const table = await raw.cluster('SLOTS');
      const owner = table.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2]?.[1];
      const target = now.find((m) => m.port !== owner)!;
      const beforeMove = senders[1]!.acknowledged.length;
      await migrateSlot(cluster, slot, target);
      await waitFor(() => senders[1]!.acknowledged.length >= beforeMove + 10, 60_000, 'project 1 to be written after its slot moved');
      await flows('after the slot moved');

      await Promise.all(senders.map((s) => s.stop()));
      const ackedByProject = senders.map((s) => s.acknowledged);
      await waitFor(
        () => subscribers.every(({ i, sub }) => ackedByProject[i]!.every((id) => sub.created.has(id))),
        60_000,
        'every subscriber to receive every message of its project',
      );
      await Promise.all(subscribers.map(({ sub }) => sub.stop()));

      // Redis: each acknowledged message exactly once, seqs gap-free.
      const store = new ChatStore(redis);
      const report = { projects: PROJECTS, sends: 0, lost: 0, duplicated: 0, unexpected: 0, gaps: 0 };
      for (const [i, ref] of refs.entries()) {
        const seen = new Map<string, number>();
        const seqs: number[] = [];
        let cursor: number | null = null;
        do {
          const page = await store.listMessages({ ...ref, limit: 200, cursor });
          for (const m of page.items) {
            seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
            seqs.push(m.seq);
          }
          cursor = page.nextCursor;
        } while (cursor !== null);
        seqs.sort((a, b) => a - b);
        const ids = ackedByProject[i]!;
        report.sends += ids.length;
        report.lost += ids.filter((id) => !seen.has(id)).length;
        report.duplicated += [...seen.values()].filter((n) => n > 1).length;
        report.unexpected += [...seen.keys()].filter((id) => !ids.includes(id)).length;
        if (seqs.some((seq, k) => seq !== k + 1)) report.gaps++;
      }
      const deliveries = subscribers.map(({ i, sub }) => ({
        resyncs: sub.resyncs,
        repeatedEventIds: sub.eventIds.length - new Set(sub.eventIds).size,
        outOfOrder: sub.eventIds.filter((id, k) => k > 0 && compareEventIds(sub.eventIds[k - 1]!, id) >= 0).length,
        createdTwice: [...sub.created.values()].filter((n) => n > 1).length,
        missing: ackedByProject[i]!.filter((id) => !sub.created.has(id)).length,
      }));
      console.log(
        `cluster figures: ${JSON.stringify({
          ...report,
          subscribers: deliveries.length,
          reconnects: subscribers.reduce((n, { sub }) => n + sub.connections - 1, 0),
          sendAttemptsFailed: senders.reduce((n, s) => n + s.failedAttempts, 0),
        })}`,
      );

      for (const app of apps) expect(app.exits, `an app process exited:\n${app.output.join('')}`).toEqual([]);
      expect(report).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, gaps: 0 });
      for (const d of deliveries) expect(d).toEqual({ resyncs: 0, repeatedEventIds: 0, outOfOrder: 0, createdTwice: 0, missing: 0 });
    } finally {
      redis.disconnect();
    }
  }, 300_000);
});
