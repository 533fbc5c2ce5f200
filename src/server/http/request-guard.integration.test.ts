/**
 * The HTTP layer of /api/trpc, through the route handler's own exported GET and POST with real
 * `Request` objects, against the real Redis of the test run: CSRF (form-style cross-site posts with
 * the victim's cookie), content types, batch and body caps, malformed cookies.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GET, POST } from '~/app/api/trpc/[trpc]/route';
import { getServices } from '~/server/context';
import { allMessages, createHarness, projectWithSession, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import { LIMITS } from '~/shared/limits';

const ORIGIN = 'http://localhost:3000';
const EVIL = 'https://evil.example';

let h: Harness;
let victim: TestUser;
let ref: SessionRef;

beforeAll(async () => {
  h = createHarness();
  victim = await h.user();
  ref = await projectWithSession(victim);
});

afterAll(async () => {
  await h.close();
  // The route handler built the process's own services on first use; let their connections go.
  const services = getServices();
  await services.hub.close();
  services.redis.disconnect();
});

function url(path: string, query = '') {
  return `${ORIGIN}/api/trpc/${path}${query}`;
}

function cookieOf(u: TestUser) {
  return `parley_session=${u.token}`;
}

function jsonPost(path: string, input: unknown, headers: Record<string, string> = {}) {
  return POST(
    new Request(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: input === undefined ? undefined : JSON.stringify(input),
    }),
  );
}

interface ErrorShape {
  error: { message: string; code: number; data: { code: string; httpStatus: number; path?: string } };
}

async function errorOf(res: Response): Promise<ErrorShape['error']> {
  const body = (await res.json()) as ErrorShape;
  return body.error;
}

describe('CSRF: a cross-site request never runs with the victim cookie', () => {
  const sendInput = () => ({ ...ref, id: randomUUID(), content: 'sent by evil.example' });

  const formStyleBodies: [string, () => { body: BodyInit; contentType?: string }][] = [
    ['text/plain', () => ({ body: JSON.stringify(sendInput()), contentType: 'text/plain' })],
    [
      'application/x-www-form-urlencoded',
      () => ({ body: new URLSearchParams({ input: JSON.stringify(sendInput()) }), contentType: undefined }),
    ],
    [
      'multipart/form-data',
      () => {
        const form = new FormData();
        for (const [k, v] of Object.entries(sendInput())) form.set(k, v);
        return { body: form, contentType: undefined };
      },
    ],
  ];

  for (const [type, make] of formStyleBodies) {
    it(`refuses a cross-site ${type} POST to message.send (403) and stores nothing`, async () => {
      const before = (await allMessages(victim, ref)).length;
      const headerSets: Record<string, string>[] = [
        // What a current browser sends for a form on another site...
        { 'sec-fetch-site': 'cross-site', origin: EVIL },
        // ...and an older browser without Fetch Metadata.
        { origin: EVIL },
        { origin: 'null' },
        { 'sec-fetch-site': 'same-site', origin: 'https://chat.localhost:3000' },
      ];
      for (const headers of headerSets) {
        const { body, contentType } = make();
        const res = await POST(
          new Request(url('message.send'), {
            method: 'POST',
            headers: { cookie: cookieOf(victim), ...headers, ...(contentType ? { 'content-type': contentType } : {}) },
            body,
          }),
        );
        expect(res.status, JSON.stringify(headers)).toBe(403);
        const error = await errorOf(res);
        expect(error.data.code).toBe('FORBIDDEN');
        expect(error.message).toMatch(/Cross-site request refused/);
      }
      expect(await allMessages(victim, ref)).toHaveLength(before);
    });

    it(`refuses a same-origin ${type} POST too (415): mutations are JSON only`, async () => {
      const { body, contentType } = make();
      const res = await POST(
        new Request(url('message.send'), {
          method: 'POST',
          headers: { cookie: cookieOf(victim), 'sec-fetch-site': 'same-origin', ...(contentType ? { 'content-type': contentType } : {}) },
          body,
        }),
      );
      expect(res.status).toBe(415);
      expect((await errorOf(res)).data.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });
  }

  it('refuses a multipart sign-out from another site, and the login stays valid (issue 14 #9)', async () => {
    const u = await h.user();
    const form = new FormData();
    form.set('x', '1');
    const res = await POST(
      new Request(url('auth.signOut'), {
        method: 'POST',
        headers: { cookie: cookieOf(u), 'sec-fetch-site': 'cross-site', origin: EVIL },
        body: form,
      }),
    );
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await u.caller.auth.me()).toMatchObject({ id: u.id });
  });

  it('refuses the SSE endpoint to another site', async () => {
    const input = encodeURIComponent(JSON.stringify({ projectId: ref.projectId }));
    const res = await GET(
      new Request(url('events.subscribe', `?input=${input}`), {
        headers: { cookie: cookieOf(victim), 'sec-fetch-site': 'cross-site', origin: EVIL, accept: 'text/event-stream' },
      }),
    );
    expect(res.status).toBe(403);
    expect((await errorOf(res)).data.code).toBe('FORBIDDEN');
  });

  it('serves requests from our own pages and from clients that send no Origin (curl, servers)', async () => {
    const cookie = cookieOf(victim);
    const own = await jsonPost('project.create', { name: 'From the app' }, { cookie, 'sec-fetch-site': 'same-origin', origin: ORIGIN });
    expect(own.status).toBe(200);
    // Older browser: Origin only, same host as the request.
    const older = await jsonPost('project.create', { name: 'Older browser' }, { cookie, origin: ORIGIN });
    expect(older.status).toBe(200);
    // curl: neither header.
    const curl = await jsonPost('message.send', { ...ref, id: randomUUID(), content: 'from curl' }, { cookie });
    expect(curl.status).toBe(200);
    const listed = await GET(new Request(url('project.list'), { headers: { cookie } }));
    expect(listed.status).toBe(200);
    expect(listed.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await allMessages(victim, ref)).map((m) => m.content)).toContain('from curl');
  });
});

describe('batches', () => {
  it(`refuses more than ${LIMITS.requestBatchMax} calls in one batch, in the batch error shape`, async () => {
    const n = LIMITS.requestBatchMax + 1;
    const paths = Array.from({ length: n }, () => 'project.list').join(',');
    const res = await GET(new Request(url(paths, '?batch=1'), { headers: { cookie: cookieOf(victim) } }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorShape[];
    expect(body).toHaveLength(n);
    expect(body[0]!.error.data.code).toBe('BAD_REQUEST');
    expect(body[0]!.error.message).toBe(`A batch may hold at most ${LIMITS.requestBatchMax} calls; this one has ${n}`);
  });

  it('serves a full batch', async () => {
    const paths = Array.from({ length: LIMITS.requestBatchMax }, () => 'project.list').join(',');
    const res = await GET(new Request(url(paths, '?batch=1'), { headers: { cookie: cookieOf(victim) } }));
    expect(res.status).toBe(200);
    expect((await res.json()) as unknown[]).toHaveLength(LIMITS.requestBatchMax);
  });

  it('refuses auth.* inside a batch: 10 sign-in attempts in one POST try no password (issue 14 #1)', async () => {
    const u = await h.user();
    const attempts = Array.from({ length: 10 }, (_, i) => [String(i), { username: u.username, password: `guess-${i}-xxxx` }]);
    const paths = attempts.map(() => 'auth.signIn').join(',');
    const res = await jsonPost(paths + '?batch=1', Object.fromEntries(attempts));
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorShape[];
    expect(body).toHaveLength(10);
    for (const entry of body) {
      expect(entry.error.data.code).toBe('BAD_REQUEST');
      expect(entry.error.message).toMatch(/auth\.\* procedures cannot be batched/);
    }
    // Mixed with anything else, too.
    const mixed = await GET(new Request(url('auth.me,project.list', '?batch=1'), { headers: { cookie: cookieOf(u) } }));
    expect(mixed.status).toBe(400);
  });

  it('serves auth calls on their own (as the browser client sends them)', async () => {
    const u = await h.user();
    const res = await jsonPost('auth.signIn', { username: u.username, password: 'correct horse battery' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^parley_session=/);
  });
});

describe('body size', () => {
  it('answers 413 from Content-Length before reading, in the tRPC error shape (issue 14 #10)', async () => {
    const u = await h.user();
    let pulled = 0;
    // A body that would be 50 MB; the guard must not read it.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const req = new Request(url('auth.signOut'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024), cookie: cookieOf(u) },
      body,
      duplex: 'half',
    } as RequestInit);
    const res = await POST(req);
    expect(res.status).toBe(413);
    const error = await errorOf(res);
    expect(error.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 });
    expect(error.message).toBe(`The request body must be at most ${LIMITS.requestBodyMaxBytes} bytes`);
    expect(pulled).toBeLessThanOrEqual(1);
    // Nothing ran: still signed in.
    expect(await u.caller.auth.me()).toMatchObject({ id: u.id });
  });

  it('answers 413 for a chunked body without Content-Length once it passes the cap', async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 50 * 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await POST(
      new Request(url('project.create'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: cookieOf(victim) },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect((await errorOf(res)).data.code).toBe('PAYLOAD_TOO_LARGE');
    // It stopped reading soon after the cap, not at the end of the 50 MB.
    expect(sent).toBeLessThan(LIMITS.requestBodyMaxBytes * 2);
  });

  it('serves a body just under the cap (a message at the content limit)', async () => {
    const content = '"'.repeat(LIMITS.messageContentMax);
    const res = await jsonPost('message.send', { ...ref, id: randomUUID(), content }, { cookie: cookieOf(victim) });
    expect(res.status).toBe(200);
  });
});

describe('passwords', () => {
  it('refuses an over-long password with BAD_REQUEST before hashing, and a short one too', async () => {
    const u = await h.user();
    const long = await jsonPost('auth.signIn', { username: u.username, password: 'x'.repeat(1_000_000) });
    expect(long.status).toBe(400);
    expect((await errorOf(long)).message).toBe(`password: Password must be at most ${LIMITS.passwordMax} characters`);
    const short = await jsonPost('auth.signUp', { username: `u${randomUUID().slice(0, 8)}`, password: 'short' });
    expect(short.status).toBe(400);
    expect((await errorOf(short)).message).toBe(`password: Password must be at least ${LIMITS.passwordMin} characters`);
    // Refused by zod, not counted as a failed sign-in: the right password still works.
    const ok = await jsonPost('auth.signIn', { username: u.username, password: 'correct horse battery' });
    expect(ok.status).toBe(200);
  });
});

describe('malformed session cookie (issue 14 #3)', () => {
  const bad = 'parley_session=%';

  it('auth.me answers null, not 500', async () => {
    const res = await GET(new Request(url('auth.me'), { headers: { cookie: bad } }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { data: null } });
  });

  it('signOut answers 200 and clears the cookie', async () => {
    const res = await jsonPost('auth.signOut', undefined, { cookie: bad });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^parley_session=; Path=\/; HttpOnly; SameSite=Lax.*Max-Age=0/);
  });

  it('signIn works and replaces it', async () => {
    const u = await h.user();
    const res = await jsonPost('auth.signIn', { username: u.username, password: 'correct horse battery' }, { cookie: bad });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^parley_session=[^;]+;/);
  });
});
