import { describe, expect, it } from 'vitest';
import {
  deletedMessage,
  editedMessage,
  findMessage,
  groupReactions,
  replaceMessage,
  toggleReaction,
  upsertMessage,
  type MessagePages,
} from './cache-updates';
import { msg } from '~/shared/test-fixtures';

const data = (): MessagePages => ({
  pages: [
    { items: [msg(3), msg(4)], nextCursor: 3 },
    { items: [msg(1), msg(2)], nextCursor: null },
  ],
  pageParams: [null, 3],
});

describe('optimistic message actions', () => {
  it('replaceMessage wins over a copy with the same updatedAt, and rolls back the same way', () => {
    const before = data();
    const original = findMessage(before, msg(2).id)!;
    const optimistic = editedMessage(original, 'changed');
    const after = replaceMessage(before, optimistic);
    expect(findMessage(after, original.id)).toMatchObject({ content: 'changed', isEdited: true });
    expect(findMessage(replaceMessage(after, original), original.id)).toEqual(original);
    // The server's later copy still replaces the optimistic one by the normal rule.
    const stored = { ...optimistic, content: 'server', updatedAt: '2099-01-01T00:00:00.000Z' };
    expect(findMessage(upsertMessage(after, stored), original.id)?.content).toBe('server');
  });

  it('replaceMessage leaves out a message that is not cached', () => {
    const before = data();
    expect(replaceMessage(before, msg(9))).toBe(before);
  });

  it('editing to the same text changes nothing (no "edited" mark)', () => {
    const m = msg(1);
    expect(editedMessage(m, m.content)).toBe(m);
  });

  it('deleting drops the text and reactions but keeps the place', () => {
    const m = { ...msg(5), reactions: [{ emoji: '👍', userId: 'u1' }] };
    expect(deletedMessage(m)).toMatchObject({ seq: 5, id: m.id, content: '', deleted: true, reactions: [] });
  });

  it('toggleReaction adds then removes only this user’s reaction', () => {
    const m = { ...msg(1), reactions: [{ emoji: '👍', userId: 'bob' }] };
    const added = toggleReaction(m, '👍', 'ada');
    expect(added.reactions).toEqual([
      { emoji: '👍', userId: 'bob' },
      { emoji: '👍', userId: 'ada' },
    ]);
    expect(toggleReaction(added, '👍', 'ada').reactions).toEqual([{ emoji: '👍', userId: 'bob' }]);
  });

  it('groupReactions counts each user once per emoji, in first-use order', () => {
    expect(
      groupReactions([
        { emoji: '🎉', userId: 'a' },
        { emoji: '👍', userId: 'b' },
        { emoji: '🎉', userId: 'b' },
        { emoji: '🎉', userId: 'a' },
      ]),
    ).toEqual([
      { emoji: '🎉', userIds: ['a', 'b'] },
      { emoji: '👍', userIds: ['b'] },
    ]);
  });
});
