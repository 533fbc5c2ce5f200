import 'server-only';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createURL } from '@trpc/server/adapters/node-http';
import { getProcedureAtPath, type AnyProcedure } from '@trpc/server/unstable-core-do-not-import';
import { stampPeerAddress } from '~/server/client-ip';
import { errorFields, logger } from '~/server/log';
import { appRouter } from '~/server/trpc/root';
import { streamSubscription } from './node-sse';
import { guardTrpcRequest, joinChunks, procedurePathOf, type GuardedRequest } from './request-guard';
import { answerCalls, type CallsAnswer } from './node-calls';
import { trpcResponse } from './trpc-handler';

const log = logger('http');

/**
 * /api/trpc straight on Node's req/res, for the production server (scripts/server.mjs), which hands
 * it every /api/trpc request before Next routes anything.
 *
 * Why: measured with `npm run bench` (request path phase), Next's own request handling costs more
 * CPU than the whole tRPC call - routing, the route module, the Web request and response it builds
 * around a route handler - so the App Router route capped a process at well under 2,000 sends/s.
 * The checks are the same as on the App Router route (./request-guard.ts, reading the body from Node's
 * stream). Past them, tRPC's fetch adapter - a Web Request in, a Web Response out - cost a quarter of
 * a send's CPU and most of an SSE delivery's, so the ordinary requests skip it, each in tRPC's own wire
 * format and through the same procedures: queries and mutations go to ./node-calls.ts, subscriptions'
 * event streams to ./node-sse.ts. Whatever those do not take (unknown paths, odd methods, streaming
 * batches...) gets tRPC's fetch adapter, exactly as under `next dev` (./trpc-handler.ts).
 */
export async function handleNodeTrpcRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The peer address comes from the socket here, whatever the client put in the header.
  stampPeerAddress(req);
  const request: GuardedRequest = {
    method: req.method ?? 'GET',
    url: createURL(req),
    headers: headersOf(req),
    readBody: (max) => readNodeBodyWithin(req, res, max),
  };
  let response: Response;
  try {
    const guarded = await guardTrpcRequest(request, appRouter);
    if (!guarded.ok) {
      response = guarded.response;
    } else {
      const subscription = request.method === 'GET' ? await subscriptionAt(request) : null;
      if (subscription) {
        await streamSubscription({ res, url: request.url, headers: request.headers, ...subscription });
        return;
      }
      const signal = request.method === 'GET' ? abortedWhenGone(res) : undefined;
      const answer = await answerCalls({ ...request, body: guarded.body, signal });
      if (answer) {
        writeAnswer(answer, res);
        return;
      }
      response = await trpcResponse({ ...request, signal }, guarded.body);
    }
  } catch (err) {
    // Every path above answers its own errors; reaching this is a bug, logged with its stack.
    log.error({ ...errorFields(err) }, 'the /api/trpc handler failed');
    if (res.headersSent) {
      // (An event stream that failed half-way: it can only end.)
      if (!res.writableEnded) res.end();
      return;
    }
    res.writeHead(500, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    res.end(JSON.stringify({ error: { message: 'Something went wrong on our side', code: -32603 } }));
    return;
  }
  await writeResponse(response, res);
}

const ignore = () => undefined;

/**
 * The subscription a request names, if ./node-sse.ts serves it: one subscription (tRPC refuses a batched
 * one), asked for as an event stream. Anything else about it (connection params, a streaming batch or
 * a body type) is tRPC's to answer, as tRPC does.
 */
async function subscriptionAt(request: GuardedRequest): Promise<{ path: string; procedure: AnyProcedure } | null> {
  const { url, headers } = request;
  if (url.searchParams.get('batch') === '1' || url.searchParams.has('connectionParams')) return null;
  if (headers.has('trpc-accept') || headers.has('content-type')) return null;
  const path = procedurePathOf(url);
  const procedure = path === null ? null : await getProcedureAtPath(appRouter, path);
  return path !== null && procedure?._def.type === 'subscription' ? { path, procedure } : null;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

/**
 * A signal that aborts when the client goes away before the answer is complete: what ends an SSE
 * stream's generator. Only GETs get one (queries and the event streams): a mutation runs to its end
 * whatever the client does, and an AbortController per POST was measurable CPU at 2,000 sends/s.
 */
function abortedWhenGone(res: ServerResponse): AbortSignal {
  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableEnded) aborted.abort();
  });
  return aborted.signal;
}

/**
 * The whole body, read straight from Node's stream (no Web stream in between), or null as soon as it
 * passes `max` bytes. Unlike tRPC's own reader, which destroys the socket at the cap (the client then
 * sees a reset instead of its 413), the rest of the upload is discarded, the 413 is sent, and the
 * connection is closed once it is (or a second later, if the client is still uploading).
 */
function readNodeBodyWithin(req: IncomingMessage, res: ServerResponse, max: number): Promise<Uint8Array<ArrayBuffer> | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      stop();
      req.resume();
      res.shouldKeepAlive = false;
      res.once('finish', () => {
        if (!req.complete) setTimeout(() => req.socket.destroy(), 1000).unref();
      });
      resolve(null);
    };
    const onEnd = () => {
      stop();
      resolve(joinChunks(chunks, size));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      // The rest of a refused upload is still read (and discarded): a client that aborts it then must
      // not crash the process with an 'error' nobody listens to.
      req.on('error', ignore);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

function writeAnswer(answer: CallsAnswer, res: ServerResponse): void {
  res.statusCode = answer.status;
  const cookies: string[] = [];
  for (const [name, value] of answer.headers) {
    if (name === 'set-cookie') cookies.push(value);
    else res.setHeader(name, value);
  }
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.setHeader('x-content-type-options', 'nosniff');
  const body = Buffer.from(answer.body);
  res.setHeader('content-length', body.byteLength);
  res.end(body);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    // Framing is Node's to choose: tRPC's `transfer-encoding: chunked` (a streamed batch) next to the
    // Content-Length set below was an invalid response the client refused.
    if (name !== 'set-cookie' && name !== 'transfer-encoding') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body) {
    res.end();
    return;
  }
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // Subscriptions are streamed by ./node-sse.ts; should tRPC ever answer with a stream, pass it on as it comes.
    pipeline(Readable.fromWeb(response.body as NodeReadableStream), res, (err) => {
      if (err && !res.destroyed) log.warn({ ...errorFields(err) }, 'an event stream from tRPC failed');
    });
    return;
  }
  // A JSON answer: one write with its length (no chunked encoding for a few hundred bytes).
  const body = Buffer.from(await response.arrayBuffer());
  res.setHeader('content-length', body.byteLength);
  res.end(body);
}

/** Where instrumentation.ts leaves the handler for scripts/server.mjs (same process, other module graph). */
const HANDLER_KEY = Symbol.for('parley.nodeTrpcHandler');

/**
 * Called from instrumentation.ts once the process's services are set up: scripts/server.mjs is plain
 * Node and cannot import this TypeScript, and Next compiles it into its own bundle, so the handler
 * crosses over on globalThis (the same way the process's Redis connection and hub are shared).
 */
export function publishNodeTrpcHandler(): void {
  (globalThis as Record<symbol, unknown>)[HANDLER_KEY] = handleNodeTrpcRequest;
}
