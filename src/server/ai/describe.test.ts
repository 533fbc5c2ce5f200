import { APICallError, RetryError } from 'ai';
import { describe, expect, it } from 'vitest';
import { mentionsPm } from '~/shared/mentions';
import { describeModelError } from './worker';

const callError = (statusCode?: number) =>
  new APICallError({ message: 'x', url: 'http://127.0.0.1/v1/chat/completions', requestBodyValues: {}, ...(statusCode ? { statusCode } : {}) });

describe('describeModelError', () => {
  it('says what went wrong and which setting to check, without internals', () => {
    expect(describeModelError(callError(429))).toMatch(/busy \(429 Too Many Requests\)/);
    expect(describeModelError(callError(401))).toMatch(/check AI_API_KEY/);
    expect(describeModelError(callError(404))).toMatch(/check AI_MODEL/);
    expect(describeModelError(callError(500))).toBe('The AI model server answered with an error (500).');
    expect(describeModelError(callError())).toBe('The AI model server could not be reached.');
    expect(describeModelError(new Error('x'.repeat(500))).length).toBeLessThan(260);
  });

  it('reads the last error of an exhausted retry', () => {
    const retry = new RetryError({ message: 'failed after 3 attempts', reason: 'maxRetriesExceeded', errors: [callError(503), callError(429)] });
    expect(describeModelError(retry)).toMatch(/busy \(429/);
  });
});

describe('mentionsPm', () => {
  it('matches @pm as a word, not inside other words or addresses', () => {
    expect(mentionsPm('hey @pm, plan it')).toBe(true);
    expect(mentionsPm('@PM?')).toBe(true);
    expect(mentionsPm('(@pm)')).toBe(true);
    expect(mentionsPm('mail ops@pm.example')).toBe(false);
    expect(mentionsPm('@pmo meeting')).toBe(false);
    expect(mentionsPm('no mention')).toBe(false);
  });
});
