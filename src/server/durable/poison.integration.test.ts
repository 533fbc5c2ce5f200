/**
 * Poison outbox entries (issue 14 item 5): an entry PostgreSQL can never store (here a session whose
 * description holds a NUL, which the API now refuses but older data or another writer may still
 * produce) is dead-lettered ALONE. Later versions of the same record that can be stored still reach
 * PostgreSQL, so it does not stay stale, and entries of other records are not held up.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { outboxDeadLetters, useDurableTestEnv } from '~/server/testing/durable';
import { projectWithSession } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import { outboxLag } from './tier';

const env = useDurableTestEnv();

const drained = async () => (await outboxLag(env.h.redis)).entries === 0;

async function pgSession(sessionId: string) {
  const r = await env.h.pool.query<{ title: string; description: string | null; status: string }>(
    'SELECT title, description, status FROM sessions WHERE id = $1',
    [sessionId],
  );
  return r.rows[0] ?? null;
}

async function deadLetters(): Promise<Array<Record<string, string>>> {
  const entries = await outboxDeadLetters(env.h.redis);
  return entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    return o;
  });
}

describe('the API', () => {
  it('refuses a NUL or a lone surrogate in a session update, as it does on create', async () => {
    const alice = await env.h.user();
    const ref = await projectWithSession(alice);
    for (const description of ['nul \u0000 inside', 'lone \ud800 surrogate']) {
      await expect(alice.caller.session.update({ ...ref, description })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(alice.caller.session.update({ ...ref, title: description })).rejects.toBeInstanceOf(TRPCError);
    }
  });
});

describe('the outbox consumer', () => {
  it('dead-letters only the entry that cannot be stored; later versions of its record persist', async () => {
    const alice = await env.h.user();
    const ref = await projectWithSession(alice, { session: 'Before' });
    const other = await projectWithSession(alice, { session: 'Bystander' });
    // Many deliveries allowed: a poison entry must not be retried (with backoff) while the rest waits.
    const consumer = await env.h.consumer({ maxDeliveries: 1000 });
    try {
      await waitFor(drained, 15_000, 'the setup persisted');
      const deadBefore = (await deadLetters()).length;

      // Written past the API (its schema refuses this now): the store takes it, PostgreSQL never will.
      await env.h.durable.store.updateSession({ ...ref, description: 'poison \u0000 here' });
      // Later versions of the same session: one that still carries the poison (title change only),
      // then the fix, then another change on top.
      await env.h.durable.store.updateSession({ ...ref, title: 'Renamed' });
      await env.h.durable.store.updateSession({ ...ref, description: 'clean again' });
      await env.h.durable.store.updateSession({ ...ref, status: 'archived' });
      // Another record meanwhile.
      await alice.caller.session.update({ ...other, title: 'Bystander, renamed' });

      await waitFor(drained, 20_000, 'the outbox to drain');
      expect(await pgSession(ref.sessionId)).toEqual({ title: 'Renamed', description: 'clean again', status: 'archived' });
      expect((await pgSession(other.sessionId))?.title).toBe('Bystander, renamed');

      const dead = (await deadLetters()).slice(deadBefore);
      // Only versions that hold the NUL may be dead-lettered, none of the storable ones. (How many
      // depends on batching: a batch holding the fix too applies just the newest version.)
      for (const d of dead) expect(JSON.parse(d.d!)).toMatchObject({ description: 'poison \u0000 here' });
      expect(consumer.snapshot().deadLettered).toBe(dead.length);
    } finally {
      await consumer.stop();
    }
  });

  it('a poison entry alone in the outbox does not hold up the entries behind it', async () => {
    const alice = await env.h.user();
    const ref = await projectWithSession(alice);
    const consumer = await env.h.consumer({ maxDeliveries: 1000 });
    try {
      await waitFor(drained, 15_000, 'the setup persisted');
      await env.h.durable.store.updateSession({ ...ref, description: 'poison \u0000 again' });
      // Alone in its batch, so it fails for itself (not only as part of a batch).
      await waitFor(async () => (await deadLetters()).some((d) => d.d?.includes('again')), 20_000, 'the poison dead-lettered');
      const sent = [];
      for (let i = 0; i < 20; i++) sent.push(await alice.caller.message.send({ ...ref, id: randomUUID(), content: `after ${i}` }));
      await env.h.durable.store.updateSession({ ...ref, description: 'fixed' });
      await waitFor(drained, 20_000, 'the outbox to drain');
      const rows = await env.h.pool.query<{ id: string }>('SELECT id FROM messages WHERE session_id = $1 ORDER BY seq', [ref.sessionId]);
      expect(rows.rows.map((r) => r.id)).toEqual(sent.map((m) => m.id));
      expect((await pgSession(ref.sessionId))?.description).toBe('fixed');
    } finally {
      await consumer.stop();
    }
  });
});
