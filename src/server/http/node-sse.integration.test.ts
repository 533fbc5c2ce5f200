/**
 * The production server's own SSE writer (./node-sse.ts) against tRPC's SSE producer (what the App
 * Router route serves under `next dev`), side by side on the same requests: the browser's
 * httpSubscriptionLink must not be able to tell them apart - the same events, ids, errors and end.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProcedureAtPath } from '@trpc/server/unstable-core-do-not-import';
import { appRouter } from '~/server/trpc/root';
import { getServices } from '~/server/context';
import { createHarness, projectWithSession, addToProject, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import { closeProcessServices, listenWith, type TestHttpServer } from '~/server/testing/http-server';
import { handleNodeTrpcRequest } from './node-trpc';
import { streamSubscription } from './node-sse';
import { handleTrpcRequest } from './trpc-handler';
import { waitFor } from '~/server/testing/wait';

let h: Harness;
let server: TestHttpServer;
let pingServer: TestHttpServer;
let nodeBase: string;
let pingBase: string;
let owner: TestUser;
let ref: SessionRef;

const WEB_BASE = 'http://localhost/api/trpc';
const PING_MS = 150;

beforeAll(async () => {
  h = createHarness();
  owner = await h.user();
  ref = await projectWithSession(owner);
  server = await listenWith((req, res) => void handleNodeTrpcRequest(req, res));
  // The same writer with a short ping interval (the app's is 10 s).
  pingServer = await listenWith((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers = new Headers({ cookie: req.headers.cookie ?? '' });
    void getProcedureAtPath(appRouter, 'events.subscribe').then((procedure) =>
      streamSubscription({ res, url, headers, path: 'events.subscribe', procedure: procedure!, pingIntervalMs: PING_MS }),
    );
  });
  nodeBase = server.trpcBase;
  pingBase = pingServer.trpcBase;
});

afterAll(async () => {
  await server.close();
  await pingServer.close();
  await h.close();
  await closeProcessServices();
});

interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/** An open event stream: its status, headers and parsed events as they arrive. */
class Stream {
  readonly events: SseEvent[] = [];
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  constructor(
    readonly status: number,
    readonly headers: Headers,
    body: ReadableStream<Uint8Array>,
    private readonly abort: AbortController,
  ) {
    void this.pump(body.getReader());
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>) {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = this.buffer.search(/\n\n/)) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2).replace(/^\n+/, '');
          if (block.trim()) this.events.push(parseBlock(block));
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  async until(test: (events: SseEvent[]) => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.events)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)}`);
      if (this.ended) throw new Error(`the stream ended before ${what}; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close() {
    this.abort.abort();
  }
}

function parseBlock(block: string): SseEvent {
  const event: SseEvent = { data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue; // a comment
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') event.event = value;
    else if (field === 'id') event.id = value;
  }
  event.data = data.join('\n');
  return event;
}

type Path = 'events.subscribe' | 'events.unread';

/** The same subscription request, to the Node path (`node`) or to tRPC's producer (`web`). */
async function open(
  via: 'node' | 'web' | 'ping',
  opts: { path?: Path; input?: string; user?: TestUser | null; lastEventId?: string },
): Promise<Stream> {
  const path = opts.path ?? 'events.subscribe';
  const query = opts.input === undefined ? '' : `?input=${encodeURIComponent(opts.input)}`;
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  const user = opts.user === undefined ? owner : opts.user;
  if (user) headers.cookie = `parley_session=${user.token}`;
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const abort = new AbortController();
  if (via === 'web') {
    const res = await handleTrpcRequest(new Request(`${WEB_BASE}/${path}${query}`, { headers, signal: abort.signal }));
    return new Stream(res.status, res.headers, res.body!, abort);
  }
  const base = via === 'node' ? nodeBase : pingBase;
  const res = await fetch(`${base}/${path}${query}`, { headers, signal: abort.signal });
  return new Stream(res.status, res.headers, res.body!, abort);
}

const typeOf = (e: SseEvent) => (e.event ?? (JSON.parse(e.data) as { type: string }).type);
const hasType = (type: string) => (events: SseEvent[]) => events.some((e) => typeOf(e) === type);
/** The events, without pings (when a ping comes depends on the clock, not on the request). */
const withoutPings = (events: SseEvent[]) => events.filter((e) => e.event !== 'ping');
const input = (ref: { projectId: string }, extra: object = {}) => JSON.stringify({ projectId: ref.projectId, ...extra });

describe('the Node SSE writer speaks tRPC SSE exactly', () => {
  it('sends the same head, connected event, ready event and tracked messages as tRPC', async () => {
    const [node, web] = await Promise.all([open('node', { input: input(ref) }), open('web', { input: input(ref) })]);
    try {
      for (const s of [node, web]) await s.until(hasType('ready'), 'ready');
      const id = randomUUID();
      await owner.caller.message.send({ ...ref, id, content: 'side by side' });
      for (const s of [node, web]) await s.until(hasType('message.created'), 'the message');

      expect(node.status).toBe(200);
      expect(node.status).toBe(web.status);
      for (const name of ['content-type', 'cache-control', 'x-accel-buffering', 'x-content-type-options', 'vary']) {
        expect(node.headers.get(name), name).toBe(web.headers.get(name));
      }
      expect(withoutPings(node.events)).toEqual(withoutPings(web.events));
      expect(node.events[0]).toEqual({ event: 'connected', data: JSON.stringify({ reconnectAfterInactivityMs: 25_000 }) });
      const message = node.events.find((e) => typeOf(e) === 'message.created')!;
      expect(message.id).toMatch(/^\d+-\d+$/);
      expect((JSON.parse(message.data) as { message: { id: string } }).message.id).toBe(id);
    } finally {
      node.close();
      web.close();
    }
  });

  it('resumes after Last-Event-Id the same way: only what came after it', async () => {
    const first = await open('node', { input: input(ref) });
    await first.until(hasType('ready'), 'ready');
    await owner.caller.message.send({ ...ref, id: randomUUID(), content: 'before the drop' });
    await first.until(hasType('message.created'), 'the first message');
    first.close();
    const resumeFrom = first.events.find((e) => typeOf(e) === 'message.created')!.id!;
    const later = randomUUID();
    await owner.caller.message.send({ ...ref, id: later, content: 'while away' });

    const [node, web] = await Promise.all([
      open('node', { input: input(ref), lastEventId: resumeFrom }),
      open('web', { input: input(ref), lastEventId: resumeFrom }),
    ]);
    try {
      for (const s of [node, web]) await s.until(hasType('message.created'), 'the missed message');
      expect(withoutPings(node.events)).toEqual(withoutPings(web.events));
      const messages = node.events.filter((e) => typeOf(e) === 'message.created');
      expect(messages.map((e) => (JSON.parse(e.data) as { message: { id: string } }).message.id)).toEqual([later]);
    } finally {
      node.close();
      web.close();
    }
  });

  it('refuses a non-member, a signed-out client and bad input with the same serialized errors, then ends', async () => {
    const stranger = await h.user();
    const cases: Array<{ what: string; opts: Parameters<typeof open>[1]; code: string }> = [
      { what: 'a non-member', opts: { input: input(ref), user: stranger }, code: 'NOT_FOUND' },
      { what: 'no login', opts: { input: input(ref), user: null }, code: 'UNAUTHORIZED' },
      { what: 'input that is not JSON', opts: { input: '{"projectId":' }, code: 'BAD_REQUEST' },
      { what: 'input that fails the schema', opts: { input: JSON.stringify({ projectId: 42 }) }, code: 'BAD_REQUEST' },
    ];
    for (const { what, opts, code } of cases) {
      const [node, web] = await Promise.all([open('node', opts), open('web', opts)]);
      for (const s of [node, web]) await s.until(hasType('serialized-error'), `${what}: the error`);
      for (const s of [node, web]) await s.until(() => s.ended, `${what}: the end of the stream`);
      expect(node.status, what).toBe(web.status);
      expect(node.events, what).toEqual(web.events);
      const error = JSON.parse(node.events.find((e) => e.event === 'serialized-error')!.data) as { data: { code: string; stack?: string } };
      expect(error.data.code, what).toBe(code);
      expect(error.data.stack, what).toBeUndefined();
    }
  });

  it('ends with a return event when the member leaves, as tRPC does', async () => {
    const member = await h.user();
    await addToProject(owner, ref.projectId, member);
    const [node, web] = await Promise.all([
      open('node', { input: input(ref), user: member }),
      open('web', { input: input(ref), user: member }),
    ]);
    for (const s of [node, web]) await s.until(hasType('ready'), 'ready');
    await member.caller.project.leave({ projectId: ref.projectId });
    for (const s of [node, web]) await s.until(() => s.ended, 'the end of the stream');
    expect(node.events.at(-1)).toEqual({ event: 'return', data: '' });
    expect(withoutPings(node.events)).toEqual(withoutPings(web.events));
  });

  it('streams the untracked unread feed the same way', async () => {
    const [node, web] = await Promise.all([open('node', { path: 'events.unread' }), open('web', { path: 'events.unread' })]);
    try {
      for (const s of [node, web]) await s.until((events) => events.length >= 2, 'the first totals');
      expect(node.events.slice(0, 2)).toEqual(web.events.slice(0, 2));
      expect(node.events[1]!.id).toBeUndefined();
    } finally {
      node.close();
      web.close();
    }
  });

  it('gives the stream slot back when the client leaves at any moment, even before the stream starts', async () => {
    const slots = getServices().limits.streams;
    // The earlier tests' streams are closed by their clients; the server notices within moments.
    await waitFor(() => slots.open === 0, 10_000, 'the earlier streams to end');
    // Resuming on a quiet project: a stream that were left running would wait for the next event.
    const first = await open('node', { input: input(ref) });
    await first.until(hasType('ready'), 'ready');
    const resumeFrom = first.events.find((e) => typeOf(e) === 'ready')!.id!;
    first.close();
    for (let i = 0; i < 30; i++) {
      const abort = new AbortController();
      const request = fetch(`${nodeBase}/events.subscribe?input=${encodeURIComponent(input(ref))}`, {
        headers: { accept: 'text/event-stream', cookie: `parley_session=${owner.token}`, 'last-event-id': resumeFrom },
        signal: abort.signal,
      }).catch(() => undefined);
      // Leave after 0..6 ms: before the login check, during it or the membership check, or once streaming.
      await new Promise((resolve) => setTimeout(resolve, i % 7));
      abort.abort();
      await request;
    }
    await waitFor(() => slots.open === 0, 10_000, 'every stream slot to come back');
    // (A stream whose slot came back at once may still be letting go of the project it started to follow.)
    await waitFor(() => getServices().hub.followedProjects === 0, 10_000, 'every stream to let go of the project');
  });

  it('pings an idle stream', async () => {
    const s = await open('ping', { input: input(ref) });
    try {
      await s.until(hasType('ready'), 'ready');
      await s.until((events) => events.filter((e) => e.event === 'ping').length >= 2, 'two pings');
      expect(s.events.find((e) => e.event === 'ping')).toEqual({ event: 'ping', data: '' });
    } finally {
      s.close();
    }
  });
});
