import 'server-only';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createURL } from '@trpc/server/adapters/node-http';
import { stampPeerAddress } from '~/server/client-ip';
import { errorFields, logger } from '~/server/log';
import { handleTrpcRequest } from './trpc-handler';

const log = logger('http');

/**
 * /api/trpc straight on Node's req/res, for the production server (scripts/server.mjs), which hands
 * it every /api/trpc request before Next routes anything.
 *
 * Why: measured with `npm run bench` (request path phase), Next's own request handling costs more
 * CPU than the whole tRPC call - routing, the route module, the Web request and response it builds
 * around a route handler - so the App Router route capped a process at well under 2,000 sends/s.
 * The work itself is unchanged: the same handler (./trpc-handler.ts: guard, tRPC, headers) gets a Web
 * Request made from Node's (toWebRequest below) and its Response is written back here.
 */
export async function handleNodeTrpcRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The peer address comes from the socket here, whatever the client put in the header.
  stampPeerAddress(req);
  const request = toWebRequest(req, res);
  let response: Response;
  try {
    response = await handleTrpcRequest(request);
  } catch (err) {
    // fetchRequestHandler answers every error itself; reaching this is a bug, logged with its stack.
    log.error({ ...errorFields(err) }, 'the /api/trpc handler failed');
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    }
    res.end(JSON.stringify({ error: { message: 'Something went wrong on our side', code: -32603 } }));
    return;
  }
  await writeResponse(response, res, request.signal);
}


/**
 * Node's request as a Web Request, like tRPC's incomingMessageToRequest but for one difference: when
 * the guard stops reading a body over the cap, tRPC's version destroys the socket, so the client gets
 * a reset instead of its 413. Here the rest of the upload is discarded instead, the 413 is sent, and
 * the connection is closed once it is (or a second later, if the client is still uploading).
 * The request's signal aborts when the client goes away before the answer is complete: that is what
 * ends an SSE stream's generator.
 */
function toWebRequest(req: IncomingMessage, res: ServerResponse): Request {
  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableEnded) aborted.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(createURL(req), {
    method: req.method,
    headers,
    signal: aborted.signal,
    ...(hasBody ? { body: bodyOf(req, res), duplex: 'half' } : {}),
  });
}

function bodyOf(req: IncomingMessage, res: ServerResponse): ReadableStream<Uint8Array> {
  // Null once the stream is cancelled: what still arrives is discarded, and nothing is enqueued after.
  let target: ReadableStreamDefaultController<Uint8Array> | null = null;
  const onData = (chunk: Buffer) => target?.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return new ReadableStream<Uint8Array>({
    start(controller) {
      target = controller;
      req.on('data', onData);
      req.once('end', () => target?.close());
      req.once('error', (err) => target?.error(err));
    },
    cancel() {
      target = null;
      req.off('data', onData);
      req.resume();
      res.shouldKeepAlive = false;
      res.once('finish', () => {
        if (!req.complete) setTimeout(() => req.socket.destroy(), 1000).unref();
      });
    },
  });
}

async function writeResponse(response: Response, res: ServerResponse, signal: AbortSignal): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body) {
    res.end();
    return;
  }
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    await pipeStream(response.body, res, signal);
    return;
  }
  // A JSON answer: one write with its length (no chunked encoding for a few hundred bytes).
  const body = Buffer.from(await response.arrayBuffer());
  res.setHeader('content-length', body.byteLength);
  res.end(body);
}

/** An SSE stream, chunk by chunk as tRPC produces them, until it ends or the client leaves. */
async function pipeStream(body: ReadableStream<Uint8Array>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const reader = body.getReader();
  // The client went away: cancelling the reader ends tRPC's stream and so the subscription's generator.
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  res.flushHeaders();
  // tRPC enqueues every event as three chunks ("data: ...", "id: ...", the blank line); corked until the
  // reads of this tick are done, they leave in one socket write instead of three (with 100 streams on a
  // project, 100 writes per event instead of 300).
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      if (!res.write(value)) await drained(res);
    }
  } catch (err) {
    if (!signal.aborted) log.warn({ ...errorFields(err) }, 'an event stream failed');
  } finally {
    signal.removeEventListener('abort', cancel);
    res.end();
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
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
