import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { guardTrpcRequest, TRPC_ENDPOINT } from '~/server/http/request-guard';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';
import { LIMITS } from '~/shared/limits';

// ioredis and the SSE streams need Node, and nothing here may be cached or prerendered.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * CSRF, content type, batch and body limits are checked first (src/server/http/request-guard.ts);
 * only a request that passes reaches tRPC.
 */
async function handler(req: Request) {
  const guarded = await guardTrpcRequest(req, appRouter);
  if (!guarded.ok) return guarded.response;
  const res = await fetchRequestHandler({
    endpoint: TRPC_ENDPOINT,
    req: guarded.req,
    router: appRouter,
    createContext,
    // The guard already counts calls; tRPC's own cap stays as a second lock on the same number.
    maxBatchSize: LIMITS.requestBatchMax,
  });
  res.headers.set('X-Content-Type-Options', 'nosniff');
  return res;
}

export { handler as GET, handler as POST };
