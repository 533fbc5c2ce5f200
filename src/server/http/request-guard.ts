import 'server-only';
import { getErrorShape, TRPCError, type AnyTRPCRouter, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { TRPCErrorShape } from '@trpc/server/rpc';
import { LIMITS } from '~/shared/limits';
import { crossSiteRefusal } from './same-origin';

/**
 * What /api/trpc checks before tRPC sees a request (src/app/api/trpc/[trpc]/route.ts), cheapest
 * first, so a refused request costs no parsing, no Redis and no argon2:
 *
 * 1. CSRF: the same-origin rule (./same-origin.ts) on every call - mutations, queries and the SSE
 *    subscription alike. 403 FORBIDDEN.
 * 2. A POST (every mutation) must be `application/json`. tRPC would also accept form data and octet
 *    streams, which are exactly what a cross-site `<form>` can send without a CORS preflight. 415.
 * 3. Batches: at most LIMITS.requestBatchMax calls, and an `auth.*` call never shares a batch (one
 *    POST with 40 auth.signIn calls must not try 40 passwords). 400 BAD_REQUEST.
 * 4. Body: at most LIMITS.requestBodyMaxBytes, judged from Content-Length and then by counting the
 *    bytes as they arrive (a chunked body has no length). 413 PAYLOAD_TOO_LARGE, before any parsing.
 *
 * Refusals use tRPC's own error shape (one entry per call for a batch), so clients parse them like
 * any other error.
 */
export const TRPC_ENDPOINT = '/api/trpc';

/**
 * A request as the guard sees it, whichever server received it: its head, and a way to read its body
 * within a cap. `readBody(max)` resolves to the whole body, or to null as soon as it passes `max`
 * bytes (the rest is never read), and rejects when the body cannot be read. The Web path reads a
 * Request's stream (readWebBodyWithin); the Node path reads the IncomingMessage itself
 * (./node-trpc.ts), so a POST costs one Web Request instead of two.
 */
export interface GuardedRequest {
  method: string;
  url: URL;
  headers: Headers;
  readBody: (max: number) => Promise<Uint8Array<ArrayBuffer> | null>;
}

/** Passed: the body's bytes (null for a request without one: GET). Refused: the response to send. */
export type GuardResult = { ok: true; body: Uint8Array<ArrayBuffer> | null } | { ok: false; response: Response };

interface Calls {
  paths: string[];
  isBatch: boolean;
}

export async function guardTrpcRequest(req: GuardedRequest, router: AnyTRPCRouter): Promise<GuardResult> {
  const calls = requestedCalls(req.url);
  const refuse = (code: TRPC_ERROR_CODE_KEY, message: string): GuardResult => ({
    ok: false,
    response: errorResponse(router, calls ?? { paths: [''], isBatch: false }, code, message),
  });

  const crossSite = crossSiteRefusal(req);
  if (crossSite) return refuse('FORBIDDEN', crossSite);
  if (!calls) return refuse('BAD_REQUEST', 'Invalid URL-encoding in the procedure path');

  if (req.method === 'POST' && mediaType(req.headers.get('content-type')) !== 'application/json') {
    return refuse('UNSUPPORTED_MEDIA_TYPE', 'Requests with a body must be sent as Content-Type: application/json');
  }

  if (calls.isBatch) {
    if (calls.paths.length > LIMITS.requestBatchMax) {
      return refuse(
        'BAD_REQUEST',
        `A batch may hold at most ${LIMITS.requestBatchMax} calls; this one has ${calls.paths.length}`,
      );
    }
    if (calls.paths.length > 1 && calls.paths.some((path) => path.startsWith('auth.'))) {
      return refuse('BAD_REQUEST', 'auth.* procedures cannot be batched with other calls; send each on its own');
    }
  }

  if (req.method !== 'POST') return { ok: true, body: null };
  const tooLarge = `The request body must be at most ${LIMITS.requestBodyMaxBytes} bytes`;
  const declared = Number(req.headers.get('content-length') ?? 0);
  if (declared > LIMITS.requestBodyMaxBytes) return refuse('PAYLOAD_TOO_LARGE', tooLarge);
  let body: Uint8Array<ArrayBuffer> | null;
  try {
    body = await req.readBody(LIMITS.requestBodyMaxBytes);
  } catch {
    return refuse('BAD_REQUEST', 'The request body could not be read');
  }
  if (!body) return refuse('PAYLOAD_TOO_LARGE', tooLarge);
  // The bytes are read now; tRPC gets a request carrying exactly them.
  return { ok: true, body };
}

/** The procedure paths a request names (comma-separated when `?batch=1`), or null if undecodable. */
function requestedCalls(url: URL): Calls | null {
  const path = procedurePathOf(url);
  if (path === null) return null;
  const isBatch = url.searchParams.get('batch') === '1';
  return { paths: isBatch ? path.split(',') : [path], isBatch };
}

/**
 * What follows /api/trpc in the URL, decoded, exactly as tRPC's fetch adapter reads it (one slash
 * trimmed at each end; `/api/trpcX` names `X`), so the guard, the Node path's direct answers and tRPC
 * always agree on what a request calls. Null when it cannot be decoded.
 */
export function procedurePathOf(url: URL): string | null {
  const trimSlashes = (path: string) => path.replace(/^\//, '').replace(/\/$/, '');
  try {
    return decodeURIComponent(trimSlashes(trimSlashes(url.pathname).slice(trimSlashes(TRPC_ENDPOINT).length)));
  } catch {
    return null;
  }
}

/** `application/json; charset=utf-8` -> `application/json`; no header -> null. */
function mediaType(contentType: string | null): string | null {
  return contentType?.split(';')[0]?.trim().toLowerCase() ?? null;
}

/** A Web Request's whole body, or null as soon as it passes `max` bytes (the rest is never read). */
export async function readWebBodyWithin(req: Request, max: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return joinChunks(chunks, size);
}

/** One byte array of `chunks` (whose lengths add up to `size`). */
export function joinChunks(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function errorResponse(router: AnyTRPCRouter, calls: Calls, code: TRPC_ERROR_CODE_KEY, message: string): Response {
  const error = new TRPCError({ code, message });
  const entries = calls.paths.map((path) => ({
    // The router's own errorFormatter runs here, so the shape is exactly what tRPC would send.
    error: getErrorShape({
      config: router._def._config,
      error,
      type: 'unknown',
      path,
      input: undefined,
      ctx: undefined,
    }) as TRPCErrorShape,
  }));
  return Response.json(calls.isBatch ? entries : entries[0], {
    status: getHTTPStatusCodeFromError(error),
    headers: { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
  });
}
