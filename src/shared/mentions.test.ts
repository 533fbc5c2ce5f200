import { describe, expect, it } from 'vitest';
import { findMentions, mentionedNames, mentionsPm, mentionsUser, MENTIONS_PER_MESSAGE_MAX } from './mentions';

describe('mentions', () => {
  it('finds @username at the start, after spaces and punctuation, not inside an address', () => {
    expect(mentionedNames('@ada hi, (@Bob_1) and @carol.')).toEqual(['ada', 'bob_1', 'carol']);
    expect(mentionedNames('mail ada@example.com')).toEqual([]);
    expect(mentionedNames('@ab is too short, @' + 'x'.repeat(33) + ' too long')).toEqual([]);
  });

  it('counts each user once, case-insensitively, and never @pm', () => {
    expect(mentionedNames('@Ada @ada @ADA @pm')).toEqual(['ada']);
  });

  it('ignores code: fenced blocks and inline code', () => {
    expect(mentionedNames('see `@ada` and\n```\n@bob\n```\n@carol')).toEqual(['carol']);
    expect(mentionsPm('`@pm` is the handle')).toBe(false);
  });

  it('keeps names with dots and dashes inside, trims them at the end', () => {
    expect(mentionedNames('@j.doe- @mary-ann')).toEqual(['j.doe', 'mary-ann']);
  });

  it('caps the distinct users of one message', () => {
    const many = Array.from({ length: 30 }, (_, i) => `@user${i}`).join(' ');
    expect(mentionedNames(many)).toHaveLength(MENTIONS_PER_MESSAGE_MAX);
  });

  it('gives offsets for rendering', () => {
    expect(findMentions('hi @Ada!')).toEqual([{ index: 3, length: 4, name: 'Ada' }]);
    expect(findMentions('ask @pm')).toEqual([{ index: 4, length: 3, name: 'pm' }]);
  });

  it('mentionsUser is case-insensitive', () => {
    expect(mentionsUser('hey @BOB', 'bob')).toBe(true);
    expect(mentionsUser('hey @bobby', 'bob')).toBe(false);
  });
});
