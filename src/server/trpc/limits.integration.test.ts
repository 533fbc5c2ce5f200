import { randomUUID } from 'node:crypto';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGN_IN_MAX_FAILURES } from '~/server/auth/service';
import { clientIpOf, PEER_HEADER } from '~/server/client-ip';
import { limitsFromEnv, type LimitsConfig } from '~/server/limits/rate-limits';
import { addToProject, createHarness, projectWithSession, type Harness, type TestUser } from '~/server/testing/harness';
import { createContextInner } from './init';
import { appRouter, createCaller } from './root';

// Small limits, so a test reaches them in a few calls; everything else as in the app.
const defaults = limitsFromEnv();
const limits: LimitsConfig = {
  ...defaults,
  rules: {
    ...defaults.rules,
    send: [
      { points: 5, seconds: 10 },
      { points: 1000, seconds: 600 },
    ],
    change: [{ points: 3, seconds: 60 }],
    projectCreate: [{ points: 3, seconds: 3600 }],
    signIn: [{ points: 60, seconds: 600 }],
    signUp: [{ points: 2, seconds: 3600 }],
  },
};

let h: Harness;
beforeAll(() => {
  h = createHarness(undefined, { limits });
});
afterAll(() => h.close());

/** A caller as an HTTP request from `ip` would get it; collects the response headers it sets. */
function callerFrom(ip: string | null, token: string | null = null) {
  const headers = new Headers();
  const caller = createCaller(
    createContextInner({ services: h, clientIp: ip, sessionToken: token, setHeader: (n, v) => headers.set(n, v) }),
  );
  return { caller, headers };
}

const fresh = () => `10.${randomInt()}.${randomInt()}.${randomInt()}`;
const randomInt = () => Math.floor(Math.random() * 250) + 1;

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

describe('sign-in throttle (issue 14 items 1 and 2)', () => {
  it('40 concurrent single sign-ins check at most SIGN_IN_MAX_FAILURES passwords', async () => {
    const victim = await h.user();
    const ip = fresh();
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 35 ? 'correct horse battery' : `wrong guess ${i}`));
    const results = await Promise.all(
      guesses.map((password) => outcome(callerFrom(ip).caller.auth.signIn({ username: victim.username, password }))),
    );
    const checked = results.filter((r) => r === 'UNAUTHORIZED' || r === 'ok').length;
    expect(checked).toBeLessThanOrEqual(SIGN_IN_MAX_FAILURES);
    expect(results.filter((r) => r === 'TOO_MANY_REQUESTS').length).toBe(40 - checked);
  });

  it('wrong guesses from one address do not lock the owner out elsewhere, and say when to retry', async () => {
    const victim = await h.user();
    const attacker = fresh();
    for (let i = 0; i < 30; i++) {
      await outcome(callerFrom(attacker).caller.auth.signIn({ username: victim.username, password: `guess ${i} !!` }));
    }
    const blocked = callerFrom(attacker);
    await expect(
      blocked.caller.auth.signIn({ username: victim.username, password: 'correct horse battery' }),
    ).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(Number(blocked.headers.get('Retry-After'))).toBeGreaterThan(0);
    // The owner, from their own address, signs in.
    await expect(
      callerFrom(fresh()).caller.auth.signIn({ username: victim.username, password: 'correct horse battery' }),
    ).resolves.toMatchObject({ id: victim.id });
  });

  it('a success clears the count', async () => {
    const u = await h.user();
    const ip = fresh();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < SIGN_IN_MAX_FAILURES - 1; i++) {
        await outcome(callerFrom(ip).caller.auth.signIn({ username: u.username, password: 'not the one!' }));
      }
      await expect(
        callerFrom(ip).caller.auth.signIn({ username: u.username, password: 'correct horse battery' }),
      ).resolves.toMatchObject({ id: u.id });
    }
  });

  it('sign-ups per address are limited; another address and in-process callers are not affected', async () => {
    const ip = fresh();
    const signUp = (from: string | null) =>
      callerFrom(from).caller.auth.signUp({ username: `s${randomUUID().slice(0, 8)}`, password: 'long enough pw' });
    await signUp(ip);
    await signUp(ip);
    await expect(signUp(ip)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    await expect(signUp(fresh())).resolves.toBeTruthy();
    await expect(signUp(null)).resolves.toBeTruthy();
  });
});

describe('per-user rate limits', () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await h.user();
  });

  it('sends over the burst limit get TOO_MANY_REQUESTS with Retry-After; the same id goes through later', async () => {
    const ref = await projectWithSession(u);
    const { caller, headers } = callerFrom(null, u.token);
    for (let i = 0; i < 5; i++) await caller.message.send({ ...ref, id: randomUUID(), content: `m${i}` });
    const id = randomUUID();
    const err = await caller.message.send({ ...ref, id, content: 'one too many' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect((err as Error).message).toMatch(/slow down/);
    const retryAfter = Number(headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    // Nothing of the refused send was stored.
    const page = await u.caller.message.list(ref);
    expect(page.items.map((m) => m.content)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('edits and reactions share one limit', async () => {
    const other = await h.user();
    const ref = await projectWithSession(other);
    const m = await other.caller.message.send({ ...ref, id: randomUUID(), content: 'hello' });
    await other.caller.message.react({ ...ref, id: m.id, emoji: '👍' });
    await other.caller.message.edit({ ...ref, id: m.id, content: 'hello!' });
    await other.caller.message.react({ ...ref, id: m.id, emoji: '🎉' });
    await expect(other.caller.message.react({ ...ref, id: m.id, emoji: '❤️' })).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
  });

  it('project creation is limited per user, not for everyone', async () => {
    const a = await h.user();
    for (let i = 0; i < 3; i++) await a.caller.project.create({ name: `p${i}` });
    await expect(a.caller.project.create({ name: 'p3' })).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    const b = await h.user();
    await expect(b.caller.project.create({ name: 'mine' })).resolves.toBeTruthy();
  });
});

describe('over HTTP', () => {
  it('answers 429 with a Retry-After header and data.retryAfter', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    const send = () =>
      fetchRequestHandler({
        endpoint: '/api/trpc',
        router: appRouter,
        req: new Request('http://localhost/api/trpc/message.send', {
          method: 'POST',
          headers: { 'content-type': 'application/json', [PEER_HEADER]: '127.0.0.1' },
          body: JSON.stringify({ ...ref, id: randomUUID(), content: 'hi' }),
        }),
        createContext: ({ req, resHeaders }) =>
          createContextInner({
            services: h,
            sessionToken: u.token,
            clientIp: clientIpOf(req.headers, 0),
            setHeader: (n, v) => resHeaders.set(n, v),
          }),
      });
    for (let i = 0; i < 5; i++) expect((await send()).status).toBe(200);
    const res = await send();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { data: { code: string; retryAfter: number } } };
    expect(body.error.data).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(body.error.data.retryAfter).toBeGreaterThanOrEqual(1);
  });
});

describe('the client address', () => {
  const req = (h: Record<string, string>) => new Headers(h);
  it('ignores X-Forwarded-For unless proxies are trusted', () => {
    const headers = req({ [PEER_HEADER]: '::ffff:203.0.113.9', 'x-forwarded-for': '198.51.100.1' });
    expect(clientIpOf(headers, 0)).toBe('203.0.113.9');
  });
  it('with N trusted proxies takes the Nth address from the right', () => {
    const headers = req({ [PEER_HEADER]: '10.0.0.2', 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.0.0.1' });
    expect(clientIpOf(headers, 1)).toBe('10.0.0.1');
    expect(clientIpOf(headers, 2)).toBe('198.51.100.7');
    // More proxies than addresses: the leftmost, never a client-chosen fresh one beyond it.
    expect(clientIpOf(headers, 9)).toBe('1.1.1.1');
  });
});

describe('reactions are bounded (issue 14 item 7)', () => {
  it('caps reactions per user per message and distinct emoji per message', async () => {
    // Default limits here: the edit/reaction rate limit must not be what stops this test.
    const hd = createHarness();
    try {
      const owner = await hd.user();
      const ref = await projectWithSession(owner);
      const m = await owner.caller.message.send({ ...ref, id: randomUUID(), content: 'react to me' });
      const pool = ['👍', '👎', '😀', '😂', '😍', '🎉', '🚀', '👀', '🔥', '💯', '✅', '❌', '🙏', '💡', '🤔', '😢', '😡', '🥳', '🤖', '🐛', '🧪', '📌'];
      for (const emoji of pool.slice(0, 10)) await owner.caller.message.react({ ...ref, id: m.id, emoji });
      await expect(owner.caller.message.react({ ...ref, id: m.id, emoji: pool[10]! })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.any(String) as unknown,
      });
      // Taking one back is always allowed, and frees a place.
      await owner.caller.message.react({ ...ref, id: m.id, emoji: pool[0]! });
      await owner.caller.message.react({ ...ref, id: m.id, emoji: pool[10]! });

      const [second, third] = [await hd.user(), await hd.user()];
      await addToProject(owner, ref.projectId, second);
      await addToProject(owner, ref.projectId, third);
      for (const emoji of pool.slice(11, 20)) await second.caller.message.react({ ...ref, id: m.id, emoji });
      await third.caller.message.react({ ...ref, id: m.id, emoji: pool[20]! });
      // 20 different emoji now: a 21st is refused, an existing one is fine.
      await expect(third.caller.message.react({ ...ref, id: m.id, emoji: pool[21]! })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/at most 20 different/) as unknown,
      });
      const after = await third.caller.message.react({ ...ref, id: m.id, emoji: pool[1]! });
      expect(new Set(after.reactions?.map((r) => r.emoji)).size).toBe(20);
      expect(JSON.stringify(after).length).toBeLessThan(4000);
    } finally {
      await hd.close();
    }
  });
});
