import 'server-only';
import type { ServerResponse } from 'node:http';
import {
  getErrorShape,
  getTRPCErrorFromUnknown,
  isAbortError,
  isAsyncIterable,
  isObject,
  isTrackedEnvelope,
  sseHeaders,
  TRPCError,
  type AnyProcedure,
} from '@trpc/server/unstable-core-do-not-import';
import { errorFields, logger } from '~/server/log';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';

const log = logger('http');
const config = appRouter._def._config;

/**
 * A tRPC subscription (events.subscribe, events.unread) served as SSE straight onto Node's response, for
 * the production server's Node path (./node-trpc.ts). Same procedure, same middlewares (auth,
 * membership, stream slots, error mapping), same wire format as tRPC's own SSE producer (the
 * browser's httpSubscriptionLink cannot tell them apart; node-sse.integration.test.ts holds them
 * side by side) - but without its machinery per subscriber and per event.
 *
 * Why: measured with `npm run bench` (fan-out phase, `--cpu-prof`), tRPC's producer costs ~0.18 ms of
 * CPU per delivered event: every event goes through a ping race (a promise race per event), a
 * generator, a ReadableStream, two TransformStreams (SSE framing, then TextEncoder, three chunks per
 * event) and our reader, and is JSON-serialized once per subscriber. With 100 tabs on a project that
 * was 18 ms of one core per message, and the fan-out p99 sat at the 50 ms target. Here an event
 * costs one socket write per subscriber: its frame is serialized and encoded once per process (the
 * hub hands every subscriber the same event object; frameOf caches by it), and the keep-alive ping is
 * one timer per stream rather than a race per event.
 *
 * What stays tRPC's: the procedure call (input parsing, middlewares, the generator) and the error
 * shape (the app's errorFormatter). `next dev` keeps tRPC's own producer (the App Router route).
 */
export async function streamSubscription(opts: {
  res: ServerResponse;
  url: URL;
  headers: Headers;
  path: string;
  procedure: AnyProcedure;
  /** How often an idle stream is pinged; the router's `sse.ping.intervalMs` unless a test says otherwise. */
  pingIntervalMs?: number;
}): Promise<void> {
  const { res, url, headers, path, procedure } = opts;
  const resHeaders = new Headers();
  const ctx = createContext({ req: { headers }, resHeaders });
  // The client went away: what ends the subscription's generator (it is handed to the procedure).
  const gone = new AbortController();
  const onClose = () => {
    if (!res.writableEnded) gone.abort();
  };
  res.once('close', onClose);
  // Gone already (while the guard ran): 'close' has been emitted and will not come again.
  if (res.destroyed) gone.abort();

  const lastEventId = headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('Last-Event-Id');
  // As tRPC reads a GET call's input: the JSON of `?input=`, with the client's last event id merged in.
  let rawInput: unknown;
  const getRawInput = () => {
    const text = url.searchParams.get('input');
    try {
      rawInput = text ? JSON.parse(text) : undefined;
    } catch (cause) {
      return Promise.reject(new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause }));
    }
    if (lastEventId) {
      rawInput = isObject(rawInput) ? { ...rawInput, lastEventId } : (rawInput ?? { lastEventId });
    }
    return Promise.resolve(rawInput);
  };

  let iterable: AsyncIterable<unknown> | null = null;
  let failure: TRPCError | null = null;
  try {
    const data: unknown = await procedure({ path, getRawInput, ctx, type: 'subscription', signal: gone.signal, batchIndex: 0 });
    if (!isAsyncIterable(data)) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `Subscription ${path} did not return an AsyncGenerator` });
    }
    iterable = data;
  } catch (cause) {
    failure = getTRPCErrorFromUnknown(cause);
  }

  // tRPC answers a subscription with 200 and the stream even when the call failed (the error is an event).
  res.statusCode = 200;
  res.setHeader('vary', 'trpc-accept, accept');
  for (const [name, value] of Object.entries(sseHeaders)) res.setHeader(name, value);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of resHeaders) res.setHeader(name, value);
  const stream = new FrameWriter(res);
  stream.write(`event: connected\ndata: ${JSON.stringify(config.sse?.client ?? {})}\n\n`);

  // tRPC pings after `intervalMs` without an event; checking every interval whether the stream was idle
  // for half of one pings an idle stream once per interval, and a stream never goes 1.5 intervals silent
  // (10 s and 15 s with the app's settings, within the client's 25 s) - one timer, no race per event.
  const ping = config.sse?.ping;
  const pingEvery = opts.pingIntervalMs ?? (ping?.enabled ? (ping.intervalMs ?? 1000) : null);
  const pinger =
    pingEvery && pingEvery > 0 && pingEvery !== Infinity
      ? setInterval(() => {
          if (Date.now() - stream.lastWriteAt >= pingEvery / 2) stream.write('event: ping\ndata: \n\n');
        }, pingEvery).unref()
      : undefined;

  try {
    if (failure) throw failure;
    // The id a reconnecting EventSource sends back (one with a line break could not be sent in an `id` field).
    let resumeId = lastEventId && !/[\0\n\r]/.test(lastEventId) ? lastEventId : null;
    for await (const value of iterable!) {
      if (isTrackedEnvelope(value)) {
        resumeId = value[0];
        if (!stream.write(frameOf(value[0], value[1]))) await stream.drained();
      } else if (resumeId === null) {
        if (!stream.write(`data: ${JSON.stringify(value)}\n\n`)) await stream.drained();
      } else {
        // An event without an `id` would inherit the last one in the EventSource: clear it for this event
        // and set it back with one clients do not listen to, so a reconnect still resumes from it.
        stream.write(`id: \ndata: ${JSON.stringify(value)}\n\n`);
        if (!stream.write(`event: restore-id\ndata: \nid: ${resumeId}\n\n`)) await stream.drained();
      }
      if (gone.signal.aborted) break;
    }
    stream.write('event: return\ndata: \n\n');
  } catch (cause) {
    if (!isAbortError(cause) && !gone.signal.aborted) {
      const error = getTRPCErrorFromUnknown(cause);
      // The procedure's own middlewares log what fails before the stream starts; a failure of the
      // stream itself would otherwise reach only the client, as "Something went wrong".
      if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ procedure: path, err: error.cause ?? error }, 'an event stream failed');
      let data = 'null';
      try {
        data = JSON.stringify(getErrorShape({ config, ctx, error, input: rawInput, path, type: 'subscription' }));
      } catch (err) {
        log.error({ ...errorFields(err), procedure: path }, 'formatting a subscription error failed');
      }
      stream.write(`event: serialized-error\ndata: ${data}\n\n`);
    }
  } finally {
    if (pinger) clearInterval(pinger);
    res.off('close', onClose);
    res.end();
  }
}

/**
 * Each tracked event's frame, encoded once per process: the hub hands every local subscriber of a
 * project the same event object, so the first subscriber's write pays for JSON.stringify and UTF-8
 * encoding and the other 99 reuse the bytes. Keyed weakly by the event, so frames live as long as the
 * event does.
 */
const frames = new WeakMap<object, { id: string; bytes: Buffer }>();

function frameOf(id: string, data: unknown): Buffer {
  const cacheable = typeof data === 'object' && data !== null;
  if (cacheable) {
    const cached = frames.get(data);
    if (cached?.id === id) return cached.bytes;
  }
  const bytes = Buffer.from(`id: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
  if (cacheable) frames.set(data, { id, bytes });
  return bytes;
}

/**
 * Writes to one SSE response. Frames written in the same tick (a burst of events, an event and its
 * restore-id) are corked into one socket write.
 */
class FrameWriter {
  lastWriteAt = Date.now();
  private corked = false;

  constructor(private readonly res: ServerResponse) {}

  /** False when the socket's buffer is full: await drained() before the next. */
  write(frame: string | Buffer): boolean {
    if (this.res.destroyed || this.res.writableEnded) return true;
    this.lastWriteAt = Date.now();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    return this.res.write(frame);
  }

  drained(): Promise<void> {
    const res = this.res;
    if (res.destroyed) return Promise.resolve();
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
}
