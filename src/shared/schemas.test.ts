import { describe, expect, it } from 'vitest';
import { emojiSchema } from './schemas';

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
