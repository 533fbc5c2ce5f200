import { describe, expect, it } from 'vitest';
import type { ProjectDetailDTO } from '~/shared/types';
import {
  addMember,
  removeMember,
  flattenPages,
  hasGapBefore,
  isProvisional,
  noteMessageInSession,
  noteMessageInSessions,
  noteMention,
  unreadMentionCount,
  type MentionSeqs,
  outboxAdd,
  outboxRemove,
  outboxUpdate,
  timeline,
  upsertMessage,
  upsertSession,
  type MessagePages,
  type OutboxEntry,
} from './cache-updates';
import { iso, msg, P, S, session } from '~/shared/test-fixtures';

/** Pages as message.list returns them: newest page first, each ascending, cursor = lowest seq. */
function pages(...ranges: Array<[number, number]>): MessagePages {
  return {
    pages: ranges.map(([from, to]) => {
      const items = [];
      for (let s = from; s <= to; s++) items.push(msg(s));
      return { items, nextCursor: from > 1 ? from : null };
    }),
    pageParams: ranges.map((_, i) => (i === 0 ? null : ranges[i - 1]![0])),
  };
}

const seqs = (data: MessagePages) => flattenPages(data).map((m) => m.seq);

describe('upsertMessage', () => {
  it('appends the next message to the newest page', () => {
    const data = upsertMessage(pages([3, 4], [1, 2]), msg(5));
    expect(seqs(data)).toEqual([1, 2, 3, 4, 5]);
    expect(data.pages[0]!.items.map((m) => m.seq)).toEqual([3, 4, 5]);
  });

  it('ignores a repeated event and a repeated mutation answer (one copy per id)', () => {
    const once = upsertMessage(pages([1, 2]), msg(3));
    const twice = upsertMessage(upsertMessage(once, msg(3)), msg(3));
    expect(seqs(twice)).toEqual([1, 2, 3]);
  });

  it('puts out-of-order messages in seq order', () => {
    let data = pages([1, 2]);
    for (const s of [5, 3, 4]) data = upsertMessage(data, msg(s));
    expect(seqs(data)).toEqual([1, 2, 3, 4, 5]);
  });

  it('places a message inside the loaded range into the right page', () => {
    const gappy: MessagePages = {
      pages: [
        { items: [msg(5), msg(7)], nextCursor: 5 },
        { items: [msg(1), msg(2)], nextCursor: null },
      ],
      pageParams: [null, 5],
    };
    const data = upsertMessage(gappy, msg(6));
    expect(data.pages[0]!.items.map((m) => m.seq)).toEqual([5, 6, 7]);
    expect(data.pages[1]).toBe(gappy.pages[1]);
  });

  it('leaves out a message older than the loaded pages while older pages are still unloaded', () => {
    const data = pages([51, 100]);
    expect(upsertMessage(data, msg(10, { id: 'old' }))).toBe(data);
  });

  it('places an older message when the oldest loaded page is the start of the session', () => {
    const start: MessagePages = { pages: [{ items: [msg(2), msg(3)], nextCursor: null }], pageParams: [null] };
    expect(seqs(upsertMessage(start, msg(1)))).toEqual([1, 2, 3]);
  });

  it('fills an empty session', () => {
    const empty: MessagePages = { pages: [{ items: [], nextCursor: null }], pageParams: [null] };
    expect(seqs(upsertMessage(empty, msg(1)))).toEqual([1]);
  });

  it('replaces a message in place with its newer state (edit, delete)', () => {
    const edited = msg(2, { content: 'fixed', isEdited: true, updatedAt: iso(30) });
    const data = upsertMessage(pages([1, 3]), edited);
    expect(seqs(data)).toEqual([1, 2, 3]);
    expect(flattenPages(data)[1]).toEqual(edited);
    const deleted = upsertMessage(data, msg(2, { deleted: true, updatedAt: iso(40) }));
    expect(flattenPages(deleted)[1]!.deleted).toBe(true);
  });

  it('never goes back to an older state of a message (late mutation answer after an edit event)', () => {
    const edited = upsertMessage(pages([1, 3]), msg(2, { content: 'fixed', updatedAt: iso(30) }));
    const stale = upsertMessage(edited, msg(2));
    expect(stale).toBe(edited);
    expect(flattenPages(stale)[1]!.content).toBe('fixed');
  });

  it('never lets a provisional (failover) copy replace the stored one, whatever its seq', () => {
    // Redis is back: X is stored at its final seq 5. The failover answer (provisional seq 3 from
    // PostgreSQL, same updatedAt) arrives late, or is re-applied from the replay buffer.
    const stored = upsertMessage(pages([1, 4]), msg(5, { id: 'X' }));
    const provisional = msg(3, { id: 'X', updatedAt: iso(5), createdAt: iso(5), metadata: { provisional: true } });
    expect(upsertMessage(stored, provisional)).toBe(stored);
    expect(upsertMessage(stored, { ...provisional, seq: 5 })).toBe(stored);
  });

  it('replaces a provisional copy with the final one, which moves to its final seq', () => {
    const provisional = msg(3, { id: 'X', updatedAt: iso(9), metadata: { provisional: true } });
    const during = upsertMessage(pages([1, 2]), provisional);
    expect(flattenPages(during).map((m) => `${m.seq}:${m.id}`)).toEqual(['1:m-1', '2:m-2', '3:X']);
    // The final copy wins even when its updatedAt is not later (the replay keeps the send's time).
    const final = msg(5, { id: 'X', updatedAt: iso(5) });
    const after = upsertMessage(upsertMessage(during, msg(3)), final);
    expect(flattenPages(after).map((m) => `${m.seq}:${m.id}`)).toEqual(['1:m-1', '2:m-2', '3:m-3', '5:X']);
    expect(isProvisional(flattenPages(after).at(-1)!)).toBe(false);
  });

  it('does not change pages it does not touch (structural sharing keeps renders cheap)', () => {
    const data = pages([3, 4], [1, 2]);
    const next = upsertMessage(data, msg(5));
    expect(next.pages[1]).toBe(data.pages[1]);
    expect(next.pageParams).toBe(data.pageParams);
  });
});

describe('hasGapBefore', () => {
  it('is false for the next seq and for anything already covered', () => {
    const data = pages([1, 4]);
    expect(hasGapBefore(data, msg(5))).toBe(false);
    expect(hasGapBefore(data, msg(3))).toBe(false);
  });

  it('is true when messages between the cache and the event were missed', () => {
    expect(hasGapBefore(pages([1, 4]), msg(6))).toBe(true);
    const empty: MessagePages = { pages: [{ items: [], nextCursor: null }], pageParams: [null] };
    expect(hasGapBefore(empty, msg(1))).toBe(false);
    expect(hasGapBefore(empty, msg(2))).toBe(true);
  });
});

describe('sessions', () => {
  it('inserts a new session at the top and ignores a repeat', () => {
    const list = [session('a', { lastMessageAt: iso(5) })];
    const created = session('b', { createdAt: iso(10), updatedAt: iso(10) });
    const once = upsertSession(list, created);
    expect(once.map((s) => s.id)).toEqual(['b', 'a']);
    expect(upsertSession(once, created).map((s) => s.id)).toEqual(['b', 'a']);
  });

  it('applies a rename without losing counters that moved on', () => {
    const list = [session('a', { messageCount: 7, lastMessageAt: iso(7), updatedAt: iso(7) })];
    // A rename event carries the state at the time of the rename; counters never go back.
    const renamed = session('a', { title: 'Roadmap', messageCount: 5, lastMessageAt: iso(5), updatedAt: iso(8) });
    const [a] = upsertSession(list, renamed);
    expect(a).toMatchObject({ title: 'Roadmap', messageCount: 7, lastMessageAt: iso(7) });
  });

  it('counts a message once however often it is applied, and moves its session to the top', () => {
    const list = [session('a', { lastMessageAt: iso(9) }), session(S, { lastMessageAt: iso(1), messageCount: 1 })];
    const m = msg(2, { createdAt: iso(20) });
    const once = noteMessageInSessions(list, m);
    const twice = noteMessageInSessions(once, m);
    expect(twice.map((s) => s.id)).toEqual([S, 'a']);
    expect(twice[0]).toMatchObject({ messageCount: 2, lastMessageAt: iso(20) });
    expect(twice).toBe(once);
  });

  it('ignores an older message for counts and times', () => {
    const s = session(S, { messageCount: 9, lastMessageAt: iso(30) });
    expect(noteMessageInSession(s, msg(3))).toBe(s);
  });
});

describe('members', () => {
  it('adds a member once, sorted by name', () => {
    const project: ProjectDetailDTO = {
      id: P,
      name: 'p',
      ownerId: 'u1',
      createdAt: iso(0),
      lastActivityAt: iso(0),
      members: [{ id: 'u1', username: 'bob' }],
    };
    const once = addMember(project, { id: 'u2', username: 'ada' });
    expect(once.members.map((m) => m.username)).toEqual(['ada', 'bob']);
    expect(addMember(once, { id: 'u2', username: 'ada' })).toBe(once);
    const gone = removeMember(once, { id: 'u2', username: 'ada' });
    expect(gone.members.map((m) => m.id)).not.toContain('u2');
    expect(removeMember(gone, { id: 'u2', username: 'ada' })).toBe(gone);
  });
});

describe('outbox and timeline', () => {
  const entry = (id: string, state: OutboxEntry['state'] = 'sending'): OutboxEntry => ({
    id,
    sessionId: S,
    content: `draft ${id}`,
    createdAt: iso(50),
    state,
    error: null,
  });

  it('shows unsent messages after the stored ones, in the order written', () => {
    const outbox = outboxAdd(outboxAdd([], entry('x')), entry('y'));
    const items = timeline([msg(1), msg(2)], outbox);
    expect(items.map((i) => (i.kind === 'stored' ? i.message.id : `outbox:${i.entry.id}`))).toEqual([
      'm-1',
      'm-2',
      'outbox:x',
      'outbox:y',
    ]);
  });

  it('replaces the optimistic message by the stored one with the same id (one copy)', () => {
    const outbox = [entry('m-3')];
    const items = timeline([msg(1), msg(2), msg(3)], outbox);
    expect(items).toHaveLength(3);
    expect(items.at(-1)).toEqual({ kind: 'stored', message: msg(3) });
  });

  it('marks a failed send and keeps its id for the retry; removes it once stored', () => {
    let outbox = outboxAdd([], entry('x'));
    outbox = outboxUpdate(outbox, 'x', { state: 'failed', error: 'unavailable' });
    expect(outbox).toEqual([{ ...entry('x'), state: 'failed', error: 'unavailable' }]);
    outbox = outboxAdd(outbox, entry('x'));
    expect(outbox).toHaveLength(1);
    expect(outboxRemove(outbox, 'x')).toEqual([]);
  });
});

describe('mentions of the viewer', () => {
  const viewer = { id: 'u-bob', username: 'Bob' };
  const msg = (seq: number, content: string, extra: Partial<{ authorId: string; deleted: boolean }> = {}) => ({
    sessionId: 's1',
    seq,
    authorId: 'u-ada',
    content,
    deleted: false,
    ...extra,
  });

  it('adds a message that mentions the viewer, drops it when an edit or delete removes the mention', () => {
    let m: MentionSeqs = {};
    m = noteMention(m, msg(2, 'hi @bob'), viewer);
    m = noteMention(m, msg(1, 'and @BOB'), viewer);
    expect(m).toEqual({ s1: [1, 2] });
    expect(noteMention(m, msg(2, 'hi @bob again'), viewer)).toBe(m);
    m = noteMention(m, msg(2, 'hi all'), viewer);
    expect(m).toEqual({ s1: [1] });
    m = noteMention(m, msg(1, 'and @bob', { deleted: true }), viewer);
    expect(m).toEqual({ s1: [] });
  });

  it('never counts the viewer’s own messages, code, or a longer name', () => {
    const m = [msg(1, '@bob', { authorId: 'u-bob' }), msg(2, '`@bob`'), msg(3, '@bobby')].reduce(
      (acc, x) => noteMention(acc, x, viewer),
      {} as MentionSeqs,
    );
    expect(m).toEqual({});
  });

  it('counts only mentions after the read marker', () => {
    expect(unreadMentionCount({ s1: [2, 5, 9] }, 's1', { s1: 5 })).toBe(1);
    expect(unreadMentionCount({ s1: [2] }, 's1', undefined)).toBe(1);
    expect(unreadMentionCount(undefined, 's1', {})).toBe(0);
  });
});
