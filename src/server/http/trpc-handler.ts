import 'server-only';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { guardTrpcRequest, readWebBodyWithin, TRPC_ENDPOINT, type GuardedRequest } from '~/server/http/request-guard';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';
import { LIMITS } from '~/shared/limits';

/**
 * /api/trpc through tRPC's fetch adapter: all of it on the App Router route that `next dev` serves
 * (src/app/api/trpc/[trpc]/route.ts), and on the production server's Node path (./node-trpc.ts)
 * whatever its direct answers (./node-calls.ts, ./node-sse.ts) leave to tRPC. Both paths check
 * CSRF, content type, batch and body limits first (./request-guard.ts); only a request that passes
 * reaches tRPC, as one Web Request carrying the bytes the guard read.
 */
export async function serveTrpc(req: GuardedRequest & { signal?: AbortSignal | undefined }): Promise<Response> {
  const guarded = await guardTrpcRequest(req, appRouter);
  if (!guarded.ok) return guarded.response;
  return trpcResponse(req, guarded.body);
}

/** tRPC's answer to a request the guard passed (`body`: the bytes it read). */
export async function trpcResponse(
  req: Omit<GuardedRequest, 'readBody'> & { signal?: AbortSignal | undefined },
  body: Uint8Array<ArrayBuffer> | null,
): Promise<Response> {
  const res = await fetchRequestHandler({
    endpoint: TRPC_ENDPOINT,
    req: new Request(req.url, {
      method: req.method,
      headers: req.headers,
      ...(body ? { body } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    }),
    router: appRouter,
    createContext,
    // The guard already counts calls; tRPC's own cap stays as a second lock on the same number.
    maxBatchSize: LIMITS.requestBatchMax,
  });
  res.headers.set('X-Content-Type-Options', 'nosniff');
  return res;
}

/** /api/trpc for a Web Request (the App Router route). */
export function handleTrpcRequest(req: Request): Promise<Response> {
  return serveTrpc({
    method: req.method,
    url: new URL(req.url),
    headers: req.headers,
    signal: req.signal,
    readBody: (max) => readWebBodyWithin(req, max),
  });
}
