/**
 * /api/trpc on Node's req/res (the production server's path, scripts/server.mjs), through a real
 * http.Server and real sockets against the test Redis: what the route handler's tests cannot see -
 * the client IP from the TCP peer, Set-Cookie, the body cap on a chunked upload, and an SSE stream
 * that ends when its client goes away.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '~/server/context';
import { PEER_HEADER } from '~/server/client-ip';
import { keys } from '~/server/redis/keys';
import { createHarness, projectWithSession, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import { closeProcessServices, listenWith, type TestHttpServer } from '~/server/testing/http-server';
import { waitFor } from '~/server/testing/wait';
import { LIMITS } from '~/shared/limits';
import { handleNodeTrpcRequest } from './node-trpc';

let h: Harness;
let server: TestHttpServer;
let base: string;
let owner: TestUser;
let ref: SessionRef;

beforeAll(async () => {
  h = createHarness();
  owner = await h.user();
  ref = await projectWithSession(owner);
  server = await listenWith((req, res) => void handleNodeTrpcRequest(req, res));
  base = server.trpcBase;
});

afterAll(async () => {
  await server.close();
  await h.close();
  await closeProcessServices();
});

const cookieOf = (u: TestUser) => `parley_session=${u.token}`;

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

describe('the Node path of /api/trpc', () => {
  it('signs up through it: the session cookie arrives as a Set-Cookie header', async () => {
    const res = await post('auth.signUp', JSON.stringify({ username: `n${randomUUID().slice(0, 8)}`, password: 'correct horse battery' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('parley_session='))).toBe(true);
  });

  it('counts a failed sign-in against the TCP peer, whatever peer header the client sends', async () => {
    const res = await post('auth.signIn', JSON.stringify({ username: owner.username, password: 'wrong password here' }), {
      [PEER_HEADER]: '203.0.113.9',
      'x-forwarded-for': '198.51.100.7',
    });
    expect(res.status).toBe(401);
    expect(await h.redis.exists(keys.signInFailures(owner.username, '127.0.0.1'))).toBe(1);
    expect(await h.redis.exists(keys.signInFailures(owner.username, '203.0.113.9'))).toBe(0);
    expect(await h.redis.exists(keys.signInFailures(owner.username, '198.51.100.7'))).toBe(0);
  });

  it('refuses a chunked body over the cap with 413 and stores nothing', async () => {
    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMITS.requestBodyMaxBytes) controller.close();
        else {
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        }
      },
    });
    const res = await fetch(`${base}/message.send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: cookieOf(owner) },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('streams events over SSE, and a client that goes away ends its stream', async () => {
    const followedBefore = h.hub.followedProjects;
    const processHub = getServices().hub;
    const input = encodeURIComponent(JSON.stringify({ projectId: ref.projectId }));
    const abort = new AbortController();
    const res = await fetch(`${base}/events.subscribe?input=${input}`, {
      headers: { accept: 'text/event-stream', cookie: cookieOf(owner) },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += value;
      }
    };
    await readUntil('"type":"ready"');
    const id = randomUUID();
    await owner.caller.message.send({ ...ref, id, content: 'over the Node path' });
    await readUntil(id);
    expect(text).toContain('"type":"message.created"');
    expect(processHub.followedProjects).toBe(1);

    abort.abort();
    await reader.cancel().catch(() => undefined);
    // The server saw the socket close: the subscription's generator ended and let go of the project.
    await waitFor(() => processHub.followedProjects === 0, 10_000, 'the stream to end on the server');
    expect(h.hub.followedProjects).toBe(followedBefore);
  });
});
