import { describe, expect, it } from 'vitest';
import { StreamSlots } from './rate-limits';

describe('StreamSlots', () => {
  it('caps streams per user and per process, and gives a slot back exactly once', () => {
    const slots = new StreamSlots(2, 3);
    const a1 = slots.acquire('a');
    slots.acquire('a');
    expect(() => slots.acquire('a')).toThrow(/at most 2/);
    slots.acquire('b');
    // Three open in the process: nobody gets a fourth, whatever their own count.
    expect(() => slots.acquire('c')).toThrow(/too many live connections/);
    a1();
    a1(); // a second release changes nothing
    expect(slots.open).toBe(2);
    slots.acquire('c');
    expect(() => slots.acquire('a')).toThrow(/too many live connections/);
  });
});
