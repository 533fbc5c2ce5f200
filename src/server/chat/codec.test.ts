import { describe, expect, it } from 'vitest';
import { msg, P, S } from '~/shared/test-fixtures';
import { decodeMessage, encodeMessage, fieldsOf, newMessage, parseStoredMessage, storedOf, type MessageFields, type StoredMessage } from './codec';

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

describe('the stored body format', () => {
  it('writes one-letter field names and leaves the default role out', () => {
    const stored = newMessage({ id: 'm-1', author: { id: 'u-1', username: 'ann' }, content: 'hi', createdAt: full.createdAt });
    expect(JSON.parse(encodeMessage(stored))).toEqual({ i: 'm-1', a: 'u-1', n: 'ann', c: 'hi', t: full.createdAt });
    expect(JSON.parse(encodeMessage(storedOf(full)))).toEqual({
      i: 'm-1',
      a: 'u-1',
      n: 'ann',
      r: 'ai_pm',
      c: 'hello',
      t: full.createdAt,
      u: full.updatedAt,
      m: full.metadata,
      x: full.aiResponse,
      f: 0.5,
      s: 'failed',
      e: true,
      d: true,
      k: full.reactions,
    });
  });

  it('writes createdAt before every nested object (search-scan-1.lua reads the first "t":"...")', () => {
    const body = encodeMessage(storedOf({ ...full, metadata: { t: 'nested' } }));
    expect(/"t":"([^"]*)"/.exec(body)?.[1]).toBe(full.createdAt);
  });

  it('reads bodies written with the full field names before the letters', () => {
    const old = JSON.stringify(storedOf(full));
    expect(parseStoredMessage(old)).toEqual(storedOf(full));
    expect(decodeMessage('p', 's', 1, old)).toEqual(decodeMessage('p', 's', 1, encodeMessage(storedOf(full))));
  });

  it('round-trips every field', () => {
    expect(parseStoredMessage(encodeMessage(storedOf(full)))).toEqual(storedOf(full));
    const plain = newMessage({ id: 'm-2', author: { id: 'u-1', username: 'ann' }, content: 'x', createdAt: full.createdAt });
    expect(parseStoredMessage(encodeMessage(plain))).toEqual(plain);
  });
});
