import 'server-only';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { guardTrpcRequest, TRPC_ENDPOINT } from '~/server/http/request-guard';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';
import { LIMITS } from '~/shared/limits';

/**
 * Everything /api/trpc does with a request, as one Web `Request` -> `Response` function, so the two
 * places that serve it behave the same by construction: the production server's Node path
 * (./node-trpc.ts, scripts/server.mjs) and the App Router route that `next dev` serves
 * (src/app/api/trpc/[trpc]/route.ts).
 *
 * CSRF, content type, batch and body limits are checked first (./request-guard.ts); only a request
 * that passes reaches tRPC.
 */
export async function handleTrpcRequest(req: Request): Promise<Response> {
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
