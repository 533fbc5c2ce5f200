import { describe, expect, it } from 'vitest';
import { msg as message } from '~/shared/test-fixtures';
import type { MessageDTO } from '~/shared/types';
import { answerIdFor } from './ids';
import { buildPrompt, parseAnswer } from './prompt';

const msg = (seq: number, content: string, over: Partial<MessageDTO> = {}): MessageDTO =>
  message(seq, { id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, authorName: 'alice', content, ...over });

describe('parseAnswer', () => {
  it('splits the user explanation, the technical instruction and the confidence', () => {
    const p = parseAnswer('Ship Friday.\n\n## Technical instruction\nTag v1.2.\n\nConfidence: 0.8');
    expect(p).toEqual({
      display: 'Ship Friday.\n\n## Technical instruction\nTag v1.2.',
      userExplanation: 'Ship Friday.',
      technicalInstruction: 'Tag v1.2.',
      confidence: 0.8,
    });
  });

  it('reads bold markers and percentages, and ignores out-of-range numbers', () => {
    expect(parseAnswer('Ok.\n**Technical instructions:**\nDo it.\n**Confidence:** 65%').confidence).toBe(0.65);
    expect(parseAnswer('Ok.\n**Technical instructions:**\nDo it.').technicalInstruction).toBe('Do it.');
    expect(parseAnswer('Ok.\nConfidence: 250').confidence).toBeNull();
  });

  it('a text without the parts is all explanation, confidence null (never throws)', () => {
    expect(parseAnswer('Just text')).toEqual({ display: 'Just text', userExplanation: 'Just text', technicalInstruction: '', confidence: null });
    expect(parseAnswer('')).toMatchObject({ display: '', confidence: null });
  });
});

describe('buildPrompt', () => {
  const ctx = (history: MessageDTO[], question: MessageDTO) => ({
    projectName: 'Apollo',
    sessionTitle: 'Launch',
    sessionDescription: 'Go-live checklist',
    history,
    question,
  });

  it('puts the project context in the system prompt and the newest messages that fit before the question', () => {
    const history = [msg(1, 'a'.repeat(1200)), msg(2, 'earlier answer', { role: 'ai_pm', authorName: 'AI PM' }), msg(3, 'the question')];
    const built = buildPrompt(ctx(history, history[2]!), 400);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.system).toContain('Project: Apollo');
    expect(built.system).toContain('Session description: Go-live checklist');
    // The 1200-character message does not fit the budget: dropped, the newer ones kept, in order.
    expect(built.messages).toEqual([
      { role: 'assistant', content: 'earlier answer' },
      { role: 'user', content: 'alice: the question' },
    ]);
  });

  it('skips deleted messages and unfinished answers, and refuses a question over the budget', () => {
    const history = [msg(1, 'gone', { deleted: true }), msg(2, 'half', { role: 'ai_pm', status: 'failed' }), msg(3, 'q')];
    const built = buildPrompt(ctx(history, history[2]!), 10_000);
    expect(built.ok && built.messages).toEqual([{ role: 'user', content: 'alice: q' }]);
    expect(buildPrompt(ctx([], msg(1, 'x'.repeat(10_000))), 1000)).toMatchObject({ ok: false });
  });
});

describe('answerIdFor', () => {
  it('is a stable UUID per question, different across questions', () => {
    const q = '6f1c1c7e-8f7a-4f61-9d4f-1d2d3c4b5a69';
    expect(answerIdFor(q)).toBe(answerIdFor(q));
    expect(answerIdFor(q)).not.toBe(answerIdFor('6f1c1c7e-8f7a-4f61-9d4f-1d2d3c4b5a6a'));
    expect(answerIdFor(q)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
