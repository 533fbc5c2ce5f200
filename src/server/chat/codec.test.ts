import { describe, expect, it } from 'vitest';
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
    const stored = newMessage({ id: 'm-1', author: { id: 'u-1', username: 'ann' }, content: 'hi', createdAt: full.createdAt });
    expect(stored).toEqual({ id: 'm-1', authorId: 'u-1', authorName: 'ann', role: 'user', content: 'hi', createdAt: full.createdAt });
    expect(decodeMessage('p', 's', 3, encodeMessage(stored))).toEqual({
      ...fieldsOf(stored),
      projectId: 'p',
      sessionId: 's',
      seq: 3,
      updatedAt: full.createdAt,
      metadata: {},
      aiResponse: null,
      confidence: null,
      status: 'delivered',
      isEdited: false,
      deleted: false,
      reactions: [],
    });
  });

  it('keeps every field that differs from its default, both ways', () => {
    const stored: StoredMessage = storedOf(full);
    expect(Object.keys(stored).sort()).toEqual(Object.keys(full).sort());
    expect(fieldsOf(stored)).toEqual(full);
    expect(storedOf(fieldsOf(stored))).toEqual(stored);
  });
});
