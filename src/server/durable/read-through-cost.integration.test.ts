/**
 * What a miss costs (issue 8): a read Redis answers NOT_FOUND goes Redis (miss) -> PostgreSQL -> ONE
 * Redis call, whose reply is the answer (Redis's own state right after re-hydrating), never Redis ->
 * PostgreSQL -> Redis -> Redis again. Round trips are counted on the tier's connection (see
 * ../testing/round-trips.ts); the answer must equal what a warm read returns right after.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { useDurableTestEnv } from '~/server/testing/durable';
import type { SessionRef, TestUser } from '~/server/testing/harness';
import { countRoundTrips } from '~/server/testing/round-trips';
import { messageKeys } from '~/server/testing/stored-bodies';
import { waitFor } from '~/server/testing/wait';
import { outboxLag } from './tier';

const env = useDurableTestEnv({ consumer: true });

/** Round trips of `op` on the tier's connection, with its result. */
async function tripsOf<T>(op: () => Promise<T>): Promise<{ trips: string[]; result: T }> {
  const counter = countRoundTrips(env.h.redis);
  try {
    const result = await op();
    return { trips: [...counter.trips], result };
  } finally {
    counter.stop();
  }
}

const persisted = () => waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');

/** Redis loses a session: its record and its messages (the index entries stay, as after a partial loss). */
const loseSession = async (ref: SessionRef) =>
  env.h.redis.del(keys.session(ref.projectId, ref.sessionId), ...(await messageKeys(env.h.redis, ref.projectId, ref.sessionId)));

let alice: TestUser;
let projectId: string;
let refs: SessionRef[];

beforeAll(async () => {
  alice = await env.h.user();
  projectId = (await alice.caller.project.create({ name: 'Misses' })).id;
  refs = [];
  for (const title of ['one', 'two', 'three']) {
    const session = await alice.caller.session.create({ projectId, title });
    const ref = { projectId, sessionId: session.id };
    for (let i = 0; i < 12; i++) await alice.caller.message.send({ ...ref, id: randomUUID(), content: `${title} ${i}` });
    refs.push(ref);
  }
  await persisted();
});

describe('a miss costs Redis -> PostgreSQL -> one Redis call', () => {
  it('message.list on a lost session: the re-hydration replies with the page', async () => {
    const store = env.h.durable.store;
    const ref = refs[0]!;
    const warm = { newest: await store.listMessages({ ...ref, limit: 5 }), older: await store.listMessages({ ...ref, limit: 5, cursor: 6 }) };
    await loseSession(ref);

    const { trips, result } = await tripsOf(() => store.listMessages({ ...ref, limit: 5, cursor: 6 }));
    // The miss, then bodies + record + page in one MULTI.
    expect(trips).toEqual(['evalsha', 'multi+evalsha+evalsha+evalsha+exec']);
    expect(result).toEqual(warm.older);
    expect(await store.listMessages({ ...ref, limit: 5, cursor: 6 })).toEqual(result);
    expect(await store.listMessages({ ...ref, limit: 5 })).toEqual(warm.newest);
  });

  it('session.get on a lost session: the re-hydration replies with the record', async () => {
    const store = env.h.durable.store;
    const ref = refs[1]!;
    const warm = await store.getSession(ref.projectId, ref.sessionId);
    await loseSession(ref);

    const { trips, result } = await tripsOf(() => store.getSession(ref.projectId, ref.sessionId));
    expect(trips).toHaveLength(2);
    expect(result).toEqual(warm);
    expect(await store.getSession(ref.projectId, ref.sessionId)).toEqual(result);
  });

  it('session.list naming a lost session: the re-hydration replies with its record, no second list', async () => {
    const store = env.h.durable.store;
    const warm = await store.listSessions(projectId);
    await loseSession(refs[2]!);

    const { trips, result } = await tripsOf(() => store.listSessions(projectId));
    expect(trips).toHaveLength(2);
    expect(result).toEqual(warm);
    expect(await store.listSessions(projectId)).toEqual(result);
  });

  it('chat.history naming messages of a lost session: the last re-hydration reads the list again, no call of its own', async () => {
    const store = env.h.durable.store;
    const warm = await store.recentMessages(projectId, 20);
    const newest = warm.at(-1)!;
    await env.h.redis.del(...(await messageKeys(env.h.redis, projectId, newest.sessionId)));

    const { trips, result } = await tripsOf(() => store.recentMessages(projectId, 20));
    expect(trips).toEqual(['evalsha', 'multi+evalsha+evalsha+evalsha+exec']);
    expect(result).toEqual(warm);
    expect(await store.recentMessages(projectId, 20)).toEqual(result);
  });

  it('session.update on a lost session: the update rides in the re-hydration call', async () => {
    const store = env.h.durable.store;
    const ref = refs[0]!;
    await loseSession(ref);

    const { trips, result } = await tripsOf(() => store.updateSession({ ...ref, title: 'one (renamed)' }));
    expect(trips).toHaveLength(2);
    expect(result.title).toBe('one (renamed)');
    expect(result.messageCount).toBe(12);
    expect(await store.getSession(ref.projectId, ref.sessionId)).toEqual(result);
    expect((await store.listMessages({ ...ref, limit: 50 })).items).toHaveLength(12);
  });

  it('message.send to a lost session: the append rides in the re-hydration call', async () => {
    const store = env.h.durable.store;
    const ref = refs[1]!;
    await persisted();
    await loseSession(ref);

    const id = randomUUID();
    const { trips, result } = await tripsOf(() =>
      store.appendMessage({ ...ref, id, content: 'after the loss', author: { id: alice.id, username: alice.username } }),
    );
    // One call more than a read: before PostgreSQL, whether the project's record is whole (a project
    // Redis lost whole comes back before the append, which must not be the first thing to land in it).
    expect(trips).toEqual(['evalsha', 'hexists', expect.stringMatching(/^multi\+evalsha\+evalsha\+evalsha\+exec$/)]);
    expect(result.created).toBe(true);
    expect(result.message.seq).toBe(13);
    const page = await store.listMessages({ ...ref, limit: 50 });
    expect(page.items.map((m) => m.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(page.items.at(-1)).toEqual(result.message);
  });

  it('project.get on a project Redis lost whole: the answer comes from the re-hydration, not a read after it', async () => {
    const store = env.h.durable.store;
    await persisted();
    const warm = await store.getProject(projectId);
    const projectKeys = [keys.project(projectId), keys.members(projectId), keys.sessions(projectId), keys.recent(projectId)];
    const sessionKeys = await Promise.all(
      refs.map(async (r) => [keys.session(r.projectId, r.sessionId), ...(await messageKeys(env.h.redis, r.projectId, r.sessionId))]),
    );
    await env.h.redis.del(...projectKeys, ...sessionKeys.flat());

    const { trips, result } = await tripsOf(() => store.getProject(projectId));
    expect(result).toEqual(warm);
    expect(await store.getProject(projectId)).toEqual(result);
    // Restoring a project costs more than the read: which sessions and members are missing (one
    // call), each lost session (one call each), the project's record with the read (one call), the
    // members' project indexes (their own slots: one pipeline). No read after it.
    expect(trips).toHaveLength(1 + 1 + refs.length + 1 + 1);
    expect(trips.at(-2)).toMatch(/^multi\+evalsha\+.*hgetall\+smembers\+exec$/);
    expect(await store.listSessions(projectId)).toHaveLength(refs.length);
  });
});
