import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys, MESSAGE_ID_BUCKETS, messageBuckets } from '~/server/redis/keys';
import { allMessages, projectWithSession, useHarness, type SessionRef } from '~/server/testing/harness';

/**
 * Redis data written before message buckets and one-letter body fields (keys.ts, codec.ts): one hash of
 * bodies per session under keys.messages, one project-wide id index under keys.messageIds, bodies with
 * full field names. The new code reads it as it is and converts a session on its first write.
 */
const env = useHarness(['alice']);

const OLD_COUNT = 300; // three buckets' worth

/** Writes `count` messages of alice's into `ref` the way the previous release stored them. */
async function writeOldLayout(ref: SessionRef, count: number): Promise<string[]> {
  const { projectId: pid, sessionId: sid } = ref;
  const ids = Array.from({ length: count }, () => randomUUID());
  const bodies: Record<string, string> = {};
  const index: Record<string, string> = {};
  ids.forEach((id, i) => {
    const seq = i + 1;
    const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
    bodies[seq] = JSON.stringify({ id, authorId: env.alice.id, authorName: env.alice.username, role: 'user', content: `old ${seq}`, createdAt });
    index[id] = `${sid}:${seq}`;
  });
  await env.h.redis.hset(keys.messages(pid, sid), bodies);
  await env.h.redis.hset(keys.messageIds(pid), index);
  await env.h.redis.hset(keys.session(pid, sid), { lastSeq: count, messageCount: count });
  await env.h.redis.lpush(keys.recent(pid), ...ids.map((_, i) => `${sid}:${i + 1}`));
  return ids;
}

describe('Redis data of the layout before buckets', () => {
  it('reads, edits, repeats and sends into it; writes convert the session, losing and duplicating nothing', async () => {
    const ref = await projectWithSession(env.alice);
    const { projectId: pid, sessionId: sid } = ref;
    const ids = await writeOldLayout(ref, OLD_COUNT);
    // A second session of the same project, never written to: stays in the old layout.
    const untouched = { projectId: pid, sessionId: (await env.alice.caller.session.create({ projectId: pid, title: 'Old' })).id };
    const untouchedIds = await writeOldLayout(untouched, 5);

    // Reads before any write: pages, history, a message by id (edit), the recent list.
    const before = await allMessages(env.alice, ref);
    expect(before.map((m) => m.id)).toEqual(ids);
    expect(before.map((m) => m.content)).toEqual(ids.map((_, i) => `old ${i + 1}`));
    expect((await env.alice.caller.chat.history({ projectId: pid, limit: 10 })).length).toBe(10);

    // An edit in place: the session is still in the old layout afterwards.
    const edited = await env.alice.caller.message.edit({ ...ref, id: ids[9]!, content: 'old 10, edited' });
    expect(edited).toMatchObject({ seq: 10, content: 'old 10, edited', isEdited: true });
    expect(await env.h.redis.exists(keys.messages(pid, sid))).toBe(1);

    // A repeated send of an old id returns the stored message; nothing is appended.
    const repeat = await env.alice.caller.message.send({ ...ref, id: ids[0]!, content: 'again' });
    expect(repeat).toMatchObject({ id: ids[0], seq: 1, content: 'old 1' });
    // An old id of another session is still refused there.
    await expect(env.alice.caller.message.send({ ...ref, id: untouchedIds[0]!, content: 'x' })).rejects.toMatchObject({ code: 'CONFLICT' });

    // Each write converts up to 256 old messages (two buckets' worth): half way after the first one,
    // with every message readable from one place or the other.
    const fresh = await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'new' });
    expect(fresh.seq).toBe(OLD_COUNT + 1);
    expect(await env.h.redis.hlen(keys.messages(pid, sid))).toBeGreaterThan(0);
    expect((await allMessages(env.alice, ref)).map((m) => m.id)).toEqual([...ids, fresh.id]);
    const second = await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'newer' });
    expect(await env.h.redis.exists(keys.messages(pid, sid))).toBe(0);
    const buckets = messageBuckets(pid, sid, OLD_COUNT + 2);
    expect(buckets).toHaveLength(3);
    for (const bucket of buckets) expect(await env.h.redis.call('OBJECT', 'ENCODING', bucket)).toBe('listpack');
    // Its ids left the old index; the untouched session's stayed there.
    const oldIndex = await env.h.redis.hgetall(keys.messageIds(pid));
    expect(Object.keys(oldIndex).sort()).toEqual([...untouchedIds].sort());

    const after = await allMessages(env.alice, ref);
    expect(after.map((m) => m.id)).toEqual([...ids, fresh.id, second.id]);
    expect(after[9]).toMatchObject({ content: 'old 10, edited', isEdited: true });
    expect(await env.alice.caller.message.send({ ...ref, id: ids[OLD_COUNT - 1]!, content: 'again' })).toMatchObject({ seq: OLD_COUNT });
    const session = await env.alice.caller.session.get(ref);
    expect(session.messageCount).toBe(OLD_COUNT + 2);

    // The untouched session reads as before, and converts on its own first write.
    expect((await allMessages(env.alice, untouched)).map((m) => m.id)).toEqual(untouchedIds);
    await env.alice.caller.message.send({ ...untouched, id: randomUUID(), content: 'new there' });
    expect(await env.h.redis.exists(keys.messageIds(pid))).toBe(0); // emptied: Redis deletes an empty hash
    expect((await allMessages(env.alice, untouched)).map((m) => m.id).slice(0, 5)).toEqual(untouchedIds);
  });

  it('stores new messages in listpack buckets with one-letter fields', async () => {
    const ref = await projectWithSession(env.alice);
    const sent = await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'hi' });
    const [bucket] = messageBuckets(ref.projectId, ref.sessionId, 1);
    expect(JSON.parse((await env.h.redis.hget(bucket!, '1'))!)).toEqual({
      i: sent.id,
      a: env.alice.id,
      n: env.alice.username,
      c: 'hi',
      t: sent.createdAt,
    });
    expect(await env.h.redis.call('OBJECT', 'ENCODING', bucket!)).toBe('listpack');
    const idBuckets = MESSAGE_ID_BUCKETS.map((b) => keys.messageIdBucket(ref.projectId, b));
    expect(await env.h.redis.exists(...idBuckets)).toBe(1);
  });
});
