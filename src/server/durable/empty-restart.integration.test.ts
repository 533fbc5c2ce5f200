/**
 * Redis comes back EMPTY after an outage during which sends were kept in PostgreSQL. The breaker
 * replays those sends before any read reaches Redis, so the first writes into the empty Redis are
 * appends: they must not leave a project record, a recent list or a session that read-through then
 * takes for "already there". Every project, session and message comes back, in order.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { useDurableTestEnv } from '~/server/testing/durable';
import { allMessages } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import type { MessageDTO } from '~/shared/types';
import { outboxLag } from './tier';

// This file exercises the breaker (an outage): production-like settings.
const env = useDurableTestEnv({ harness: { deadlineMs: 1000, failureThreshold: 3, probeIntervalMs: 200 }, consumer: true });

const contents = (ms: MessageDTO[]) => ms.map((m) => m.content);

describe('Redis restarted empty after an outage with sends kept in PostgreSQL', () => {
  it('replays the sends into the re-hydrated project: nothing missing, history in order', async () => {
    const alice = await env.h.user();
    const project = await alice.caller.project.create({ name: 'Phoenix' });
    const s1 = await alice.caller.session.create({ projectId: project.id, title: 's1' });
    const s2 = await alice.caller.session.create({ projectId: project.id, title: 's2' });
    const ref1 = { projectId: project.id, sessionId: s1.id };
    const ref2 = { projectId: project.id, sessionId: s2.id };
    // Orders across sessions are compared below, and a history rebuilt from PostgreSQL orders by message
    // time: keep every send in its own millisecond (README: same-millisecond ties may differ).
    const nextMillisecond = () => new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 5; i++) await alice.caller.message.send({ ...ref1, id: randomUUID(), content: `old s1 ${i}` });
    await nextMillisecond();
    for (let i = 0; i < 2; i++) await alice.caller.message.send({ ...ref2, id: randomUUID(), content: `old s2 ${i}` });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');

    await env.server.kill();
    // Sends during the outage are kept in PostgreSQL, in both sessions.
    for (let i = 0; i < 3; i++) {
      await nextMillisecond();
      await alice.caller.message.send({ ...ref2, id: randomUUID(), content: `outage s2 ${i}` });
      await nextMillisecond();
      await alice.caller.message.send({ ...ref1, id: randomUUID(), content: `outage s1 ${i}` });
    }
    expect(env.h.durable.breaker.state).toBe('open');
    expect((await env.h.durable.pg.pendingCounts()).pending).toBe(6);

    // Redis comes back with nothing: the breaker replays the sends before it serves a read.
    await env.replaceRedisWithEmpty();
    await waitFor(() => env.h.durable.breaker.state === 'closed', 15_000, 'breaker closed');
    await waitFor(async () => (await env.h.durable.pg.pendingCounts()).pending === 0, 15_000, 'pending replayed');
    // The replay brought the project back whole, not a record holding only its activity time.
    expect(await env.h.redis.hget(keys.project(project.id), 'id')).toBe(project.id);

    expect(await alice.caller.project.get({ projectId: project.id })).toMatchObject({ id: project.id, name: 'Phoenix' });
    expect((await alice.caller.project.list()).map((p) => p.id)).toContain(project.id);
    expect((await alice.caller.session.list({ projectId: project.id })).map((s) => s.id).sort()).toEqual([s1.id, s2.id].sort());
    const one = await allMessages(alice, ref1);
    const two = await allMessages(alice, ref2);
    expect(one.map((m) => [m.seq, m.content])).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => [i + 1, `old s1 ${i}`]),
      ...[0, 1, 2].map((i) => [i + 6, `outage s1 ${i}`]),
    ]);
    expect(two.map((m) => [m.seq, m.content])).toEqual([
      ...[0, 1].map((i) => [i + 1, `old s2 ${i}`]),
      ...[0, 1, 2].map((i) => [i + 3, `outage s2 ${i}`]),
    ]);
    // The project's history across sessions: every message, oldest first, in the order sent.
    expect(contents(await alice.caller.chat.history({ projectId: project.id, limit: 50 }))).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `old s1 ${i}`),
      ...[0, 1].map((i) => `old s2 ${i}`),
      ...[0, 1, 2].flatMap((i) => [`outage s2 ${i}`, `outage s1 ${i}`]),
    ]);
    // And new sends go on after the replayed ones.
    const next = await alice.caller.message.send({ ...ref2, id: randomUUID(), content: 'after' });
    expect(next.seq).toBe(6);
    expect(contents(await alice.caller.chat.history({ projectId: project.id, limit: 2 }))).toEqual(['outage s1 2', 'after']);
  });

  it('merges a project record and recent list that an append left partial, instead of skipping them', async () => {
    const bob = await env.h.user();
    const project = await bob.caller.project.create({ name: 'Partial' });
    const s1 = await bob.caller.session.create({ projectId: project.id, title: 's1' });
    const s2 = await bob.caller.session.create({ projectId: project.id, title: 's2' });
    const ref1 = { projectId: project.id, sessionId: s1.id };
    const ref2 = { projectId: project.id, sessionId: s2.id };
    for (let i = 0; i < 3; i++) await bob.caller.message.send({ ...ref1, id: randomUUID(), content: `s1 ${i}` });
    // A rebuilt history orders by message time: no cross-session tie in the same millisecond (README).
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 3; i++) await bob.caller.message.send({ ...ref2, id: randomUUID(), content: `s2 ${i}` });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');

    await env.server.stop();
    await env.replaceRedisWithEmpty();
    await waitFor(async () => (await env.h.redis.ping()) === 'PONG', 10_000, 'app reconnected');
    // A write that reaches the empty Redis before any read: only its session comes back first, and
    // the append creates the project record (activity time only) and a recent list of one.
    await env.h.durable.hydrator.session(project.id, s2.id);
    await env.h.durable.redisStore.appendMessage({ ...ref2, id: randomUUID(), content: 's2 late', author: { id: bob.id, username: bob.username } });
    expect(await env.h.redis.hget(keys.project(project.id), 'id')).toBeNull();

    expect(await bob.caller.project.get({ projectId: project.id })).toMatchObject({ id: project.id, name: 'Partial' });
    expect((await bob.caller.project.list()).map((p) => p.id)).toContain(project.id);
    expect(contents(await allMessages(bob, ref1))).toEqual(['s1 0', 's1 1', 's1 2']);
    expect(contents(await allMessages(bob, ref2))).toEqual(['s2 0', 's2 1', 's2 2', 's2 late']);
    expect(contents(await bob.caller.chat.history({ projectId: project.id, limit: 50 }))).toEqual([
      's1 0',
      's1 1',
      's1 2',
      's2 0',
      's2 1',
      's2 2',
      's2 late',
    ]);
  });
});
