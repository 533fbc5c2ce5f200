import { describe, expect, it } from 'vitest';
import { TYPING } from '~/shared/limits';
import { applyTyping, typists, type TypingState } from './cache-updates';

const S = 's1';
const start = (userId: string, username: string) => ({ sessionId: S, userId, username, typing: true });

describe('typing rules', () => {
  it('lists others typing, not the viewer, sorted', () => {
    let state: TypingState = {};
    state = applyTyping(state, start('u2', 'zed'), 1000);
    state = applyTyping(state, start('u1', 'ada'), 1000);
    state = applyTyping(state, start('me', 'me'), 1000);
    expect(typists(state, S, 'me', 2000, TYPING.startedExpiryMs)).toEqual(['ada', 'zed']);
    expect(typists(state, 'other-session', 'me', 2000, TYPING.startedExpiryMs)).toEqual([]);
  });

  it('an explicit stop removes the typist at once', () => {
    const state = applyTyping(applyTyping({}, start('u1', 'ada'), 0), { ...start('u1', 'ada'), typing: false }, 1);
    expect(typists(state, S, 'me', 2, TYPING.startedExpiryMs)).toEqual([]);
  });

  it('a typist not heard from for the expiry period drops out by itself (their tab died)', () => {
    const state = applyTyping({}, start('u1', 'ada'), 0);
    expect(typists(state, S, 'me', TYPING.startedExpiryMs - 1, TYPING.startedExpiryMs)).toEqual(['ada']);
    expect(typists(state, S, 'me', TYPING.startedExpiryMs, TYPING.startedExpiryMs)).toEqual([]);
    // A still-typing tab repeats "start" every startedWaitMs, well within the expiry.
    expect(TYPING.startedWaitMs).toBeLessThan(TYPING.startedExpiryMs);
  });

  it('a stop for someone not typing changes nothing', () => {
    const state: TypingState = {};
    expect(applyTyping(state, { ...start('u1', 'ada'), typing: false }, 0)).toBe(state);
  });
});
