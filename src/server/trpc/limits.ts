/**
 * Abuse limits as tRPC middlewares: routers add `.use(rateLimit('send'))`; no procedure has an `if` of
 * its own. Sizes and counters: src/server/limits/rate-limits.ts.
 */
import 'server-only';
import type { AuthedUser } from '~/server/auth/service';
import { AppError } from '~/server/errors';
import { PER_IP, type RuleName } from '~/server/limits/rate-limits';
import { middleware } from './init';

/**
 * The middleware for one rule. Per-user rules need a signed-in caller (use after authedProcedure);
 * per-IP rules apply only when the request has a client IP (HTTP requests always do; the in-process
 * callers of the tests have none).
 */
export function rateLimit(rule: RuleName) {
  return middleware(async ({ ctx, next }) => {
    if (PER_IP.has(rule)) {
      if (ctx.clientIp !== null) await ctx.limits.consume(rule, ctx.clientIp);
    } else {
      const user = (ctx as typeof ctx & { user?: AuthedUser }).user;
      if (!user) throw new AppError('UNAUTHORIZED', 'Please sign in');
      await ctx.limits.consume(rule, user.id);
    }
    return next();
  });
}

/**
 * Takes one of the caller's stream slots for an events.subscribe stream (StreamSlots: per user and per
 * process); refused with TOO_MANY_REQUESTS and Retry-After as a plain HTTP error, before the stream
 * starts. The slot comes back when the stream's generator ends (ctx.releaseStreamSlot) or the request
 * is aborted first, whichever comes first (releasing twice is a no-op).
 */
export function streamSlot() {
  return middleware(async ({ ctx, next, signal }) => {
    const user = (ctx as typeof ctx & { user?: AuthedUser }).user;
    if (!user) throw new AppError('UNAUTHORIZED', 'Please sign in');
    const release = ctx.limits.streams.acquire(user.id);
    signal?.addEventListener('abort', release, { once: true });
    // Gone while auth and membership were being checked: a listener added now would never be called.
    if (signal?.aborted) release();
    try {
      const result = await next({ ctx: { releaseStreamSlot: release } });
      if (!result.ok) release();
      return result;
    } catch (err) {
      release();
      throw err;
    }
  });
}
