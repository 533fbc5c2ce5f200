import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { addToProject, projectWithSession, useHarness } from '~/server/testing/harness';

const env = useHarness(['alice']);

describe('message.send', () => {
  it('stores a repeated id once and returns the same message both times', async () => {
    const ref = await projectWithSession(env.alice);
    const id = randomUUID();
    const first = await env.alice.caller.message.send({ ...ref, id, content: 'hello' });
    const again = await env.alice.caller.message.send({ ...ref, id, content: 'hello (retry)' });
    expect(again).toEqual(first);
    expect(first.seq).toBe(1);
    expect(first.authorName).toBe(env.alice.username);
    const page = await env.alice.caller.message.list(ref);
    expect(page.items.map((m) => m.id)).toEqual([id]);
    const session = await env.alice.caller.session.get(ref);
    expect(session.messageCount).toBe(1);
    // Exactly one event announced it.
    const events = await env.h.redis.xrange(keys.events(ref.projectId), '-', '+');
    const created = events.filter(([, f]) => f[1] === 'message.created');
    expect(created).toHaveLength(1);
    // The log references the message (session, seq) instead of holding a second copy of its body.
    expect(created[0]?.[1]).toEqual(['t', 'message.created', 's', ref.sessionId, 'q', '1']);
  });

  it('refuses an id already used in another session', async () => {
    const ref = await projectWithSession(env.alice);
    const other = await env.alice.caller.session.create({ projectId: ref.projectId, title: 'Other' });
    const id = randomUUID();
    await env.alice.caller.message.send({ ...ref, id, content: 'one' });
    await expect(
      env.alice.caller.message.send({ ...ref, sessionId: other.id, id, content: 'two' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('gives 500 concurrent sends 500 distinct gap-free seqs that page back exactly once', async () => {
    const ref = await projectWithSession(env.alice);
    const ids = Array.from({ length: 500 }, () => randomUUID());
    const sent = await Promise.all(
      ids.map((id, i) => env.alice.caller.message.send({ ...ref, id, content: `m${i}` })),
    );
    const seqs = sent.map((m) => m.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));

    const seen: string[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const page: { items: { id: string; seq: number }[]; nextCursor: number | null } =
        await env.alice.caller.message.list({ ...ref, limit: 64, cursor });
      const pageSeqs = page.items.map((m) => m.seq);
      expect(pageSeqs).toEqual([...pageSeqs].sort((a, b) => a - b));
      seen.unshift(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(Math.ceil(500 / 64));
    expect(seen).toHaveLength(500);
    expect(new Set(seen).size).toBe(500);
    expect(new Set(seen)).toEqual(new Set(ids));

    const session = await env.alice.caller.session.get(ref);
    expect(session.messageCount).toBe(500);
    expect(session.lastMessageAt).toBe(sent.reduce((a, m) => (m.createdAt > a ? m.createdAt : a), ''));
    const events = await env.h.redis.xlen(keys.events(ref.projectId));
    expect(events).toBe(1 + 500); // session.created + one per message
  });

  it('stores nothing with a TTL', async () => {
    const ref = await projectWithSession(env.alice);
    await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'kept forever' });
    const projectKeys = await env.h.redis.keys(`project:{${ref.projectId}}*`);
    expect(projectKeys.length).toBeGreaterThanOrEqual(6);
    for (const key of projectKeys) expect(await env.h.redis.ttl(key)).toBe(-1);
  });
});

describe('message.list and chat.history', () => {
  it('reads newest page first with a seq cursor and null at the start', async () => {
    const ref = await projectWithSession(env.alice);
    for (let i = 1; i <= 5; i++) await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: `#${i}` });
    const p1 = await env.alice.caller.message.list({ ...ref, limit: 2 });
    expect(p1.items.map((m) => m.content)).toEqual(['#4', '#5']);
    expect(p1.nextCursor).toBe(4);
    const p2 = await env.alice.caller.message.list({ ...ref, limit: 2, cursor: p1.nextCursor });
    expect(p2.items.map((m) => m.content)).toEqual(['#2', '#3']);
    const p3 = await env.alice.caller.message.list({ ...ref, limit: 2, cursor: p2.nextCursor });
    expect(p3.items.map((m) => m.content)).toEqual(['#1']);
    expect(p3.nextCursor).toBeNull();
  });

  it('an empty session is an empty page, a missing one is NOT_FOUND', async () => {
    const ref = await projectWithSession(env.alice);
    expect(await env.alice.caller.message.list(ref)).toEqual({ items: [], nextCursor: null });
    await expect(
      env.alice.caller.message.list({ ...ref, sessionId: randomUUID() }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      env.alice.caller.message.send({ ...ref, sessionId: randomUUID(), id: randomUUID(), content: 'x' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('history spans sessions, newest last, and honours limit', async () => {
    const ref = await projectWithSession(env.alice);
    const other = await env.alice.caller.session.create({ projectId: ref.projectId, title: 'B' });
    await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'a1' });
    await env.alice.caller.message.send({ ...ref, sessionId: other.id, id: randomUUID(), content: 'b1' });
    await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'a2' });
    const all = await env.alice.caller.chat.history({ projectId: ref.projectId, limit: 10 });
    expect(all.map((m) => m.content)).toEqual(['a1', 'b1', 'a2']);
    const two = await env.alice.caller.chat.history({ projectId: ref.projectId, limit: 2 });
    expect(two.map((m) => m.content)).toEqual(['b1', 'a2']);
    const one = await env.alice.caller.chat.history({ ...ref, limit: 10 });
    expect(one.map((m) => m.content)).toEqual(['a1', 'a2']);
  });
});

describe('message.edit / delete / react', () => {
  it('changes a message in place, announces it, and keeps author rights', async () => {
    const ref = await projectWithSession(env.alice);
    const m = await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'draft' });
    const edited = await env.alice.caller.message.edit({ ...ref, id: m.id, content: 'final' });
    expect(edited).toMatchObject({ id: m.id, seq: m.seq, content: 'final', isEdited: true });
    expect(edited.updatedAt >= m.updatedAt).toBe(true);

    const bob = await env.h.user();
    await addToProject(env.alice, ref.projectId, bob);
    await expect(bob.caller.message.edit({ ...ref, id: m.id, content: 'mine now' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const reacted = await bob.caller.message.react({ ...ref, id: m.id, emoji: '👍' });
    expect(reacted.reactions).toEqual([{ emoji: '👍', userId: bob.id }]);
    const unreacted = await bob.caller.message.react({ ...ref, id: m.id, emoji: '👍' });
    expect(unreacted.reactions).toEqual([]);

    const deleted = await env.alice.caller.message.delete({ ...ref, id: m.id });
    expect(deleted).toMatchObject({ deleted: true, content: '', seq: m.seq });
    const page = await env.alice.caller.message.list(ref);
    expect(page.items).toEqual([deleted]);
    await expect(env.alice.caller.message.edit({ ...ref, id: m.id, content: 'undo' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(
      env.alice.caller.message.edit({ ...ref, id: randomUUID(), content: 'ghost' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const types = (await env.h.redis.xrange(keys.events(ref.projectId), '-', '+')).map(([, f]) => f[1]);
    expect(types.slice(-5)).toEqual([
      'message.updated', // edit
      'member.added',
      'message.updated', // react
      'message.updated', // unreact
      'message.deleted',
    ]);
  });

  it('the project owner may delete any message; other members only their own', async () => {
    const ref = await projectWithSession(env.alice);
    const bob = await env.h.user();
    const carol = await env.h.user();
    await addToProject(env.alice, ref.projectId, bob);
    await addToProject(env.alice, ref.projectId, carol);
    const bobs = await bob.caller.message.send({ ...ref, id: randomUUID(), content: 'spam' });
    await expect(carol.caller.message.delete({ ...ref, id: bobs.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // The owner moderates, but does not get to rewrite someone else's words.
    await expect(env.alice.caller.message.edit({ ...ref, id: bobs.id, content: 'x' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const deleted = await env.alice.caller.message.delete({ ...ref, id: bobs.id });
    expect(deleted).toMatchObject({ id: bobs.id, deleted: true, content: '', authorId: bob.id });
  });

  it('loses no reaction when many members react at once', async () => {
    const ref = await projectWithSession(env.alice);
    const m = await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'vote' });
    const emojis = ['👍', '🎉', '🚀', '👀', '✅', '❤️', '🔥', '💯'];
    await Promise.all(emojis.map((emoji) => env.alice.caller.message.react({ ...ref, id: m.id, emoji })));
    const [stored] = (await env.alice.caller.message.list(ref)).items;
    expect(stored?.reactions.map((r) => r.emoji).sort()).toEqual([...emojis].sort());
  });
});

describe('sessions', () => {
  it('lists by most recent activity and updates emit the new state', async () => {
    const ref = await projectWithSession(env.alice);
    // Recency is by millisecond: two sessions created in the same one tie (then any order is right).
    await new Promise((r) => setTimeout(r, 5));
    const second = await env.alice.caller.session.create({ projectId: ref.projectId, title: 'Second' });
    let list = await env.alice.caller.session.list({ projectId: ref.projectId });
    expect(list.map((s) => s.id)).toEqual([second.id, ref.sessionId]);
    await new Promise((r) => setTimeout(r, 5));
    await env.alice.caller.message.send({ ...ref, id: randomUUID(), content: 'bump' });
    list = await env.alice.caller.session.list({ projectId: ref.projectId });
    expect(list.map((s) => s.id)).toEqual([ref.sessionId, second.id]);
    expect(list[0]?.messageCount).toBe(1);

    const updated = await env.alice.caller.session.update({ ...ref, title: 'Renamed', status: 'archived' });
    expect(updated).toMatchObject({ title: 'Renamed', status: 'archived', messageCount: 1 });
    const [last] = await env.h.redis.xrevrange(keys.events(ref.projectId), '+', '-', 'COUNT', 1);
    expect(last?.[1]).toContain('session.updated');
    await expect(
      env.alice.caller.session.update({ ...ref, sessionId: randomUUID(), title: 'x' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
