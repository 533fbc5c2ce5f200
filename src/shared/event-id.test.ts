import { describe, expect, it } from 'vitest';
import { compareEventIds, eventIdTimeMs, eventIdVersion, laterEventId, parseEventId } from './event-id';

describe('event ids', () => {
  it('compares stream ids numerically, not as strings', () => {
    expect(compareEventIds('999-0', '1000-0')).toBe(-1);
    expect(compareEventIds('1000-10', '1000-9')).toBe(1);
    expect(compareEventIds('1000-1', '1000-1')).toBe(0);
    expect(compareEventIds('18446744073709551615-0', '9007199254740993-0')).toBe(1);
  });

  it('ranks something that is not an id as the start of the log', () => {
    expect(compareEventIds('garbage', '0-0')).toBe(0);
    expect(compareEventIds('garbage', '1-0')).toBe(-1);
  });

  it('keeps the later id', () => {
    expect(laterEventId(null, '5-0')).toBe('5-0');
    expect(laterEventId('5-1', null)).toBe('5-1');
    expect(laterEventId('10-0', '9-9')).toBe('10-0');
  });

  it('parses only ids Redis can make', () => {
    expect(parseEventId('1700000000000-3')).toEqual({ ms: 1700000000000n, n: 3n });
    for (const bad of ['', '1', '1-', '-1', '1-2-3', 'a-1', '1 -2', '18446744073709551616-0', '123456789012345678901-0']) {
      expect(parseEventId(bad)).toBeNull();
    }
  });

  it('reads the time and the row version', () => {
    expect(eventIdTimeMs('1700000000000-3')).toBe(1700000000000);
    expect(eventIdTimeMs('nope')).toBeNull();
    expect(eventIdVersion('1700000000000-3')).toBe('1700000000000000000003');
    expect(() => eventIdVersion('nope')).toThrow(/not an event id/);
  });
});
