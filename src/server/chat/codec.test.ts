import { describe, expect, it } from 'vitest';
import { msg, P, S } from '~/shared/test-fixtures';
import { decodeMessage, encodeMessage, fieldsOf, newMessage, storedOf, type MessageFields, type StoredMessage } from './codec';

const full: MessageFields = {
  id: 'm-1',
  authorId: 'u-1',
  authorName: 'ann',
  role: 'ai_pm',
  content: 'hello',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  metadata: { replyTo: 'q-1' },
  aiResponse: { model: 'x' },
  confidence: 0.5,
  status: 'failed',
  isEdited: true,
  deleted: true,
  reactions: [{ emoji: '👍', userId: 'u-1' }],
};

describe('the message codec', () => {
  it('stores a message at its defaults as its required fields only', () => {
    // The shared fixture's message is one at every default.
    const expected = msg(3, { content: 'hi' });
    const { id, authorId, authorName, content, createdAt } = expected;
    const stored = newMessage({ id, author: { id: authorId, username: authorName }, content, createdAt });
    expect(stored).toEqual({ id, authorId, authorName, role: 'user', content, createdAt });
    expect(decodeMessage(P, S, 3, encodeMessage(stored))).toEqual(expected);
  });

  it('keeps every field that differs from its default, both ways', () => {
    const stored: StoredMessage = storedOf(full);
    expect(Object.keys(stored).sort()).toEqual(Object.keys(full).sort());
    expect(fieldsOf(stored)).toEqual(full);
    expect(storedOf(fieldsOf(stored))).toEqual(stored);
  });
});
