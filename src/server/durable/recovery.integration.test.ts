/**
 * Read-through: Redis comes back EMPTY (a new data directory on the same port: its disk was lost).
 * Everything PostgreSQL has comes back into Redis on first read - accounts, login sessions, projects,
 * members, sessions, messages with their edits - so nothing a user ever saw disappears, users can
 * sign in, and new messages continue after the last seq.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { isOutboxPartition } from '~/server/redis/outbox-partitions';
import { scanKeys } from '~/server/redis/scan';
import { useDurableTestEnv } from '~/server/testing/durable';
import { allMessages, addToProject } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import { outboxLag } from './tier';

const env = useDurableTestEnv({ consumer: true });

/** Stops Redis and starts a new, empty one on the same port (the app reconnects by itself). */
async function replaceRedisWithAnEmptyOne() {
  await env.server.stop();
  await env.replaceRedisWithEmpty();
  await waitFor(async () => (await env.h.redis.ping()) === 'PONG', 10_000, 'app reconnected');
  // Empty (outbox partitions tolerated: a write racing the restart may have made one).
  const left: string[] = [];
  for await (const key of scanKeys(env.h.redis, '*')) if (!isOutboxPartition(key)) left.push(key);
  expect(left).toEqual([]);
}

describe('Redis restarted empty', () => {
  it('re-hydrates history, projects, members and accounts from PostgreSQL on first read', async () => {
    const [alice, bob] = await Promise.all([env.h.user(), env.h.user()]);
    const project = await alice.caller.project.create({ name: 'Phoenix' });
    await addToProject(alice, project.id, bob);
    const s1 = await alice.caller.session.create({ projectId: project.id, title: 'First', description: 'kickoff' });
    const s2 = await bob.caller.session.create({ projectId: project.id, title: 'Second' });
    const ref1 = { projectId: project.id, sessionId: s1.id };
    const ref2 = { projectId: project.id, sessionId: s2.id };
    for (let i = 0; i < 120; i++) {
      await (i % 3 ? alice : bob).caller.message.send({ ...ref1, id: randomUUID(), content: `one ${i}` });
    }
    // A history rebuilt from PostgreSQL is ordered by message time (then seq); Redis orders by append. The
    // two agree except for messages of different sessions stamped in the same millisecond, which this
    // test does not create on purpose (the README documents the difference).
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 30; i++) await bob.caller.message.send({ ...ref2, id: randomUUID(), content: `two ${i}` });
    const [m1] = (await alice.caller.message.list({ ...ref1, limit: 1, cursor: 2 })).items;
    await bob.caller.message.edit({ ...ref1, id: m1!.id, content: 'first, edited' });
    await alice.caller.message.react({ ...ref1, id: m1!.id, emoji: '🎉' });
    await alice.caller.session.update({ ...ref2, title: 'Second (renamed)' });

    const before = {
      projects: await alice.caller.project.list(),
      project: await alice.caller.project.get({ projectId: project.id }),
      sessions: await alice.caller.session.list({ projectId: project.id }),
      one: await allMessages(alice, ref1),
      two: await allMessages(bob, ref2),
      history: await alice.caller.chat.history({ projectId: project.id, limit: 100 }),
    };
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');

    await replaceRedisWithAnEmptyOne();

    // The same login cookies still work (login sessions come back from PostgreSQL)...
    expect(await alice.caller.auth.me()).toMatchObject({ id: alice.id });
    // ...and everything reads back as it was.
    expect(await alice.caller.project.list()).toEqual(before.projects);
    expect(await alice.caller.project.get({ projectId: project.id })).toEqual(before.project);
    expect(await allMessages(alice, ref1)).toEqual(before.one);
    expect(await allMessages(bob, ref2)).toEqual(before.two);
    expect(await alice.caller.session.list({ projectId: project.id })).toEqual(before.sessions);
    expect(await alice.caller.chat.history({ projectId: project.id, limit: 100 })).toEqual(before.history);

    // New messages continue after the last seq; ids stay idempotent.
    const next = await alice.caller.message.send({ ...ref1, id: randomUUID(), content: 'after the loss' });
    expect(next.seq).toBe(121);
    const repeat = await bob.caller.message.send({ ...ref1, id: m1!.id, content: 'first' });
    expect(repeat).toMatchObject({ seq: 1, content: 'first, edited' });
    expect((await alice.caller.session.get(ref1)).messageCount).toBe(121);
  });

  it('keeps a session readable when a message never reached PostgreSQL before Redis lost it', async () => {
    const erin = await env.h.user();
    const project = await erin.caller.project.create({ name: 'Gap' });
    const session = await erin.caller.session.create({ projectId: project.id, title: 'Holes' });
    const ref = { projectId: project.id, sessionId: session.id };
    for (let i = 1; i <= 5; i++) await erin.caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'persisted');
    // As if seq 3 had still been in the outbox when Redis lost everything.
    await env.h.pool.query('DELETE FROM messages WHERE session_id = $1 AND seq = 3', [session.id]);
    await replaceRedisWithAnEmptyOne();

    const items = await allMessages(erin, ref);
    expect(items.map((m) => [m.seq, m.content, m.deleted])).toEqual([
      [1, 'm1', false],
      [2, 'm2', false],
      [3, '', true],
      [4, 'm4', false],
      [5, 'm5', false],
    ]);
    expect((await erin.caller.message.send({ ...ref, id: randomUUID(), content: 'm6' })).seq).toBe(6);
  });

  it('lets users sign in, keeps their usernames taken, and finds them to add as members', async () => {
    const [carol, dave] = await Promise.all([env.h.user(), env.h.user()]);
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'accounts persisted');
    await replaceRedisWithAnEmptyOne();

    const again = await env.h.signIn(carol.username);
    expect(again.id).toBe(carol.id);
    await expect(env.h.anonymous().auth.signIn({ username: carol.username, password: 'wrong password!' })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
    await expect(env.h.anonymous().auth.signUp({ username: dave.username.toUpperCase(), password: 'another password' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const project = await again.caller.project.create({ name: 'After' });
    const added = await again.caller.project.addMember({ projectId: project.id, username: dave.username });
    expect(added).toEqual({ status: 'invited' });
    expect(await env.h.redis.exists(keys.user(dave.id))).toBe(1);
    const daveAgain = await env.h.signIn(dave.username);
    expect((await daveAgain.caller.project.invitations()).map((i) => i.projectId)).toEqual([project.id]);
  });
});
