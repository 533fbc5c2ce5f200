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
