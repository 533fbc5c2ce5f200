/**
 * Read markers in the durable tier (issue 10): every move goes through the outbox in the markRead
 * script itself, the consumer keeps the furthest marker in PostgreSQL (an older or replayed entry never
 * moves it back), and a Redis that comes back empty gets them back, so unread counts survive it.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addToProject, projectWithSession } from '~/server/testing/harness';
import { useDurableTestEnv } from '~/server/testing/durable';
import { waitFor } from '~/server/testing/wait';
import { persistEntries } from './persist';
import { outboxLag } from './tier';

const env = useDurableTestEnv({ consumer: true });

const markerInPg = async (projectId: string, userId: string, sessionId: string) =>
  (
    await env.h.pool.query<{ last_read: number }>(
      'SELECT last_read FROM read_markers WHERE project_id = $1 AND user_id = $2 AND session_id = $3',
      [projectId, userId, sessionId],
    )
  ).rows[0]?.last_read ?? null;

describe('read markers in PostgreSQL', () => {
  it('markRead appends its move to the outbox in the same script; the consumer persists it', async () => {
    const ada = await env.h.user();
    const bob = await env.h.user();
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    for (let i = 0; i < 3; i++) await ada.caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` });
    await bob.caller.session.markRead({ ...ref, seq: 2 });
    await waitFor(async () => (await markerInPg(ref.projectId, bob.id, ref.sessionId)) === 2, 10_000, 'bob’s marker persisted');
    // Ada's own sends moved her marker too (own messages are never unread): persisted as well.
    await waitFor(async () => (await markerInPg(ref.projectId, ada.id, ref.sessionId)) === 3, 10_000, 'ada’s marker persisted');
    // A repeat that moves nothing appends nothing.
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'outbox drained');
    await bob.caller.session.markRead({ ...ref, seq: 1 });
    expect((await outboxLag(env.h.redis)).entries).toBe(0);
  });

  it('an older or replayed entry never moves a persisted marker back', async () => {
    const projectId = randomUUID();
    const userId = randomUUID();
    const sessionId = randomUUID();
    const move = (id: string, lastRead: number) => ({ id, change: { kind: 'read' as const, projectId, userId, sessionId, lastRead } });
    await persistEntries(env.h.pool, [move('1000-0', 5)]);
    // Reordered (an older entry after a newer one), in one batch and across batches.
    await persistEntries(env.h.pool, [move('900-0', 3)]);
    await persistEntries(env.h.pool, [move('1100-0', 7), move('1050-0', 6)]);
    await persistEntries(env.h.pool, [move('1000-0', 5)]);
    expect(await markerInPg(projectId, userId, sessionId)).toBe(7);
  });

  it('unread counts survive a Redis that comes back empty', async () => {
    const ada = await env.h.user();
    const bob = await env.h.user();
    const ref = await projectWithSession(ada);
    await addToProject(ada, ref.projectId, bob);
    for (let i = 0; i < 5; i++) await ada.caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` });
    await bob.caller.session.markRead({ ...ref, seq: 3 });
    expect((await bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 2, mentions: 0 });
    await waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 10_000, 'everything persisted');

    await env.replaceRedisWithEmpty();
    await waitFor(async () => (await env.h.redis.ping().catch(() => null)) === 'PONG', 10_000, 'app reconnected');

    // Without the markers every message would be unread again (5), and Ada's own too.
    expect((await bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 2, mentions: 0 });
    expect((await ada.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 0, mentions: 0 });
    expect(await bob.caller.session.readMarkers({ projectId: ref.projectId })).toEqual({ [ref.sessionId]: 3 });
    // And they go on moving forward only.
    await bob.caller.session.markRead({ ...ref, seq: 5 });
    expect((await bob.caller.project.unreadTotals())[ref.projectId]).toEqual({ unread: 0, mentions: 0 });
  });
});
