/**
 * Every field of user text refuses what PostgreSQL cannot store (a NUL, a lone UTF-16 surrogate), on
 * every procedure that takes it: such text would be acknowledged by Redis and then dead-lettered by the
 * outbox consumer, leaving PostgreSQL stale (issue 14 item 5: session.update took a NUL description).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  emojiSchema,
  messageEditInput,
  messageSendInput,
  projectCreateInput,
  sessionCreateInput,
  sessionUpdateInput,
} from './schemas';

const ids = { projectId: randomUUID(), sessionId: randomUUID(), id: randomUUID() };

/** Each user-text field, with a valid input around it. */
const fields: Array<{ what: string; schema: z.ZodType; input: (text: string) => unknown }> = [
  { what: 'project name', schema: projectCreateInput, input: (name) => ({ name }) },
  { what: 'session title (create)', schema: sessionCreateInput, input: (title) => ({ ...ids, title }) },
  { what: 'session description (create)', schema: sessionCreateInput, input: (description) => ({ ...ids, title: 'T', description }) },
  { what: 'session title (update)', schema: sessionUpdateInput, input: (title) => ({ ...ids, title }) },
  { what: 'session description (update)', schema: sessionUpdateInput, input: (description) => ({ ...ids, description }) },
  { what: 'message content (send)', schema: messageSendInput, input: (content) => ({ ...ids, content }) },
  { what: 'message content (edit)', schema: messageEditInput, input: (content) => ({ ...ids, content }) },
];

describe.each(fields)('$what', ({ schema, input }) => {
  it('refuses a NUL character', () => {
    const r = schema.safeParse(input('a\u0000b'));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/must not contain NUL characters or broken Unicode/);
  });

  it('refuses a lone surrogate (high or low)', () => {
    expect(schema.safeParse(input('a\ud83db')).success).toBe(false);
    expect(schema.safeParse(input('a\udc4db')).success).toBe(false);
  });

  it('accepts ordinary text, emoji (surrogate pairs) included', () => {
    expect(schema.safeParse(input('ok 👍')).success).toBe(true);
  });
});

describe('the other checks are unchanged', () => {
  it('says which field is empty or too long', () => {
    expect(projectCreateInput.safeParse({ name: '   ' }).error?.issues[0]?.message).toBe('Project name must not be empty');
    expect(messageSendInput.safeParse({ ...ids, content: ' \n ' }).error?.issues[0]?.message).toBe('Message must not be empty');
    expect(messageSendInput.safeParse({ ...ids, content: 'x'.repeat(8001) }).error?.issues[0]?.message).toBe(
      'Message must be at most 8000 characters',
    );
    expect(sessionUpdateInput.safeParse({ ...ids, description: '' }).success).toBe(true);
  });

  it('trims names and titles, keeps message content as typed', () => {
    expect(sessionCreateInput.parse({ ...ids, title: '  Plan  ' }).title).toBe('Plan');
    expect(messageSendInput.parse({ ...ids, content: '  indented' }).content).toBe('  indented');
  });
});

describe('a reaction is one emoji (issue 14 item 7)', () => {
  it.each(['👍', '❤️', '👍🏽', '👩‍💻', '👨‍👩‍👧‍👦', '🇫🇷', '🎉', '☕'])('accepts %s', (emoji) => {
    expect(emojiSchema.safeParse(emoji).success).toBe(true);
  });

  it.each(['', 'a', 'ok', '👍👍', 'x👍', '👍 ', '1', '\u200D', '🇫', '👍\u200D', 'aaaaaaaaaaaaaaaa'])(
    'refuses %j',
    (emoji) => {
      expect(emojiSchema.safeParse(emoji).success).toBe(false);
    },
  );

  it('refuses a long run that a 16-character cap alone let through', () => {
    expect(emojiSchema.safeParse('👍'.repeat(8)).success).toBe(false);
  });
});
