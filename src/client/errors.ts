/** Turns a failed call into one sentence a user can act on. */
import { isTRPCClientError } from '@trpc/client';

interface ZodFlat {
  formErrors?: string[];
  fieldErrors?: Record<string, string[] | undefined>;
}

export function errorMessage(error: unknown): string {
  if (isTRPCClientError(error)) {
    const data = error.data as { code?: string; zodError?: ZodFlat | null } | undefined;
    const zod = data?.zodError;
    if (zod) {
      const first = zod.formErrors?.[0] ?? Object.values(zod.fieldErrors ?? {}).find((v) => v && v.length > 0)?.[0];
      if (first) return first;
    }
    if (!data?.code) return 'Cannot reach Parley. Check your connection and try again.';
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return 'Something went wrong';
}

/**
 * Seconds the server asked us to wait when a call was over an abuse limit (TOO_MANY_REQUESTS with
 * `data.retryAfter`, the same value as the Retry-After header), else null.
 */
export function retryAfterSeconds(error: unknown): number | null {
  if (!isTRPCClientError(error)) return null;
  const data = error.data as { code?: string; retryAfter?: number | null } | undefined;
  if (data?.code !== 'TOO_MANY_REQUESTS') return null;
  return typeof data.retryAfter === 'number' && data.retryAfter > 0 ? data.retryAfter : 1;
}
