/**
 * Next compiles the server code into several bundles of one process, so one AppError class can meet
 * another copy's (see AppError): the tRPC error mapping must still recognise it.
 */
import { describe, expect, it, vi } from 'vitest';
import type * as errors from './errors';
import { AppError, toAppError } from './errors';

async function otherCopyOfErrors(): Promise<typeof errors> {
  vi.resetModules();
  return import('./errors');
}

describe('AppError across copies of errors.ts', () => {
  it('is an AppError to every copy, and toAppError keeps it as it is', async () => {
    const other = await otherCopyOfErrors();
    expect(other.AppError).not.toBe(AppError);
    const err = new other.AppError('UNAUTHORIZED', 'Wrong username or password');
    expect(err instanceof AppError).toBe(true);
    expect(toAppError(err)).toBe(err);
    expect(new AppError('NOT_FOUND', 'x') instanceof other.AppError).toBe(true);
  });

  it('is not fooled by other errors, and subclasses keep their own check', () => {
    expect(new Error('plain') instanceof AppError).toBe(false);
    expect({ code: 'NOT_FOUND' } instanceof AppError).toBe(false);
    class Narrower extends AppError {}
    expect(new AppError('CONFLICT', 'x') instanceof Narrower).toBe(false);
    expect(new Narrower('CONFLICT', 'x') instanceof Narrower).toBe(true);
    expect(new Narrower('CONFLICT', 'x') instanceof AppError).toBe(true);
  });
});
