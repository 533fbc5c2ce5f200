import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { retryAfterSeconds } from './errors';

const failed = (data: Record<string, unknown>) =>
  new TRPCClientError('refused', { result: { error: { message: 'refused', code: -32029, data } } });

describe('retryAfterSeconds', () => {
  it('reads the wait of a TOO_MANY_REQUESTS answer (what the composer waits before resending)', () => {
    expect(retryAfterSeconds(failed({ code: 'TOO_MANY_REQUESTS', retryAfter: 7 }))).toBe(7);
    // Over a limit without a hint still waits a little, rather than hammering.
    expect(retryAfterSeconds(failed({ code: 'TOO_MANY_REQUESTS', retryAfter: null }))).toBe(1);
  });

  it('is null for every other failure, which the composer shows as failed with Retry', () => {
    expect(retryAfterSeconds(failed({ code: 'BAD_REQUEST', retryAfter: null }))).toBeNull();
    expect(retryAfterSeconds(new Error('network'))).toBeNull();
  });
});
