/**
 * The production server's direct answers to queries and mutations (./node-calls.ts) against tRPC's
 * fetch adapter (what the App Router route serves under `next dev`), side by side on the same
 * requests: status, headers and body must be the same, for answers and for every kind of error - and
 * the ordinary requests must really be the direct ones (else this would compare tRPC with itself).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, projectWithSession, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import { closeProcessServices, listenWith, type TestHttpServer } from '~/server/testing/http-server';
import { LIMITS } from '~/shared/limits';
import { callsAnswered } from './node-calls';
import { handleNodeTrpcRequest } from './node-trpc';
import { handleTrpcRequest } from './trpc-handler';

let h: Harness;
let server: TestHttpServer;
let nodeBase: string;
let owner: TestUser;
let stranger: TestUser;
let ref: SessionRef;

const WEB_BASE = 'http://localhost/api/trpc';
/** The headers both answers must agree on (Date and Content-Length may differ in form, not in meaning). */
const COMPARED_HEADERS = ['content-type', 'vary', 'x-content-type-options', 'retry-after', 'cache-control'];

beforeAll(async () => {
  h = createHarness();
  owner = await h.user();
  stranger = await h.user();
  ref = await projectWithSession(owner);
  server = await listenWith((req, res) => void handleNodeTrpcRequest(req, res));
  nodeBase = server.trpcBase;
});

afterAll(async () => {
  await server.close();
  await h.close();
  await closeProcessServices();
});

interface Call {
  method: 'GET' | 'POST' | 'PUT';
  /** After /api/trpc/, with the query string. */
  path: string;
  body?: string;
  user?: TestUser | null;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  cookies: string[];
  body: unknown;
}

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return {
    status: res.status,
    headers: Object.fromEntries(COMPARED_HEADERS.map((name) => [name, res.headers.get(name)])),
    // A new login's cookie differs in its token, not in its attributes.
    cookies: res.headers.getSetCookie().map((c) => c.replace(/^parley_session=[^;]+/, 'parley_session=<token>')),
    body,
  };
}

function init(call: Call): RequestInit {
  const headers: Record<string, string> = { ...call.headers };
  const user = call.user === undefined ? owner : call.user;
  if (user) headers.cookie = `parley_session=${user.token}`;
  if (call.body !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
  return { method: call.method, headers, ...(call.body !== undefined ? { body: call.body } : {}) };
}

const viaNode = async (call: Call) => answerOf(await fetch(`${nodeBase}/${call.path}`, init(call)));
const viaTrpc = async (call: Call) => answerOf(await handleTrpcRequest(new Request(`${WEB_BASE}/${call.path}`, init(call))));

const q = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;

/**
 * Runs `call` on the Node path, then again on each path, and compares the two repeats (the first run
 * makes repeatable calls - an idempotent send - answer the same way both times). Returns the answer
 * and which way the Node path took.
 */
async function sideBySide(call: Call, opts: { once?: boolean } = {}): Promise<{ answer: Answer; direct: boolean }> {
  if (!opts.once) await viaNode(call);
  const before = { ...callsAnswered };
  const node = await viaNode(call);
  const direct = callsAnswered.direct > before.direct;
  const trpc = await viaTrpc(call);
  expect(node, `${call.method} ${call.path}`).toEqual(trpc);
  return { answer: node, direct };
}

describe('queries and mutations answered directly, exactly as tRPC answers them', () => {
  it('answers single and batched queries and mutations directly, with the same answers', async () => {
    const sendInput = { ...ref, id: randomUUID(), content: 'side by side' };
    const cases: Call[] = [
      { method: 'GET', path: `project.get?${q({ projectId: ref.projectId })}` },
      { method: 'GET', path: `project.list` },
      // A trailing slash, as tRPC reads it: the same procedure.
      { method: 'GET', path: `project.list/` },
      { method: 'GET', path: `project.get,message.list?batch=1&${q({ 0: { projectId: ref.projectId }, 1: ref })}` },
      { method: 'POST', path: 'message.send', body: JSON.stringify(sendInput) },
      {
        method: 'POST',
        path: 'message.send,message.send?batch=1',
        body: JSON.stringify({ 0: { ...sendInput, id: randomUUID() }, 1: { ...sendInput, id: randomUUID() } }),
      },
    ];
    for (const call of cases) {
      const { answer, direct } = await sideBySide(call);
      expect(direct, `${call.method} ${call.path}`).toBe(true);
      expect(answer.status, `${call.method} ${call.path}`).toBe(200);
    }
  });

  it('answers errors directly with the same status, shape and message', async () => {
    const cases: Array<Call & { status: number }> = [
      { method: 'GET', path: `project.get?${q({ projectId: ref.projectId })}`, user: stranger, status: 404 },
      { method: 'GET', path: `project.get?${q({ projectId: ref.projectId })}`, user: null, status: 401 },
      { method: 'GET', path: `project.get?${q({ projectId: 'not-a-uuid' })}`, status: 400 },
      {
        method: 'POST',
        path: 'message.send',
        body: JSON.stringify({ ...ref, id: randomUUID(), content: 'x'.repeat(LIMITS.messageContentMax + 1) }),
        status: 400,
      },
      // One call answered, one refused: 207, each entry with its own result.
      {
        method: 'GET',
        path: `project.get,project.get?batch=1&${q({ 0: { projectId: ref.projectId }, 1: { projectId: randomUUID() } })}`,
        status: 207,
      },
      { method: 'POST', path: 'auth.signIn', body: JSON.stringify({ username: owner.username, password: 'not the password' }), user: null, status: 401 },
    ];
    for (const { status, ...call } of cases) {
      const { answer, direct } = await sideBySide(call);
      expect(direct, `${call.method} ${call.path}`).toBe(true);
      expect(answer.status, `${call.method} ${call.path}`).toBe(status);
      const entries = (Array.isArray(answer.body) ? answer.body : [answer.body]) as Array<{ error?: { data: { stack?: string } } }>;
      for (const entry of entries) expect(entry.error?.data.stack).toBeUndefined();
    }
  });

  it('signs in directly: the login cookie comes with the same attributes', async () => {
    const user = await h.user();
    const call: Call = { method: 'POST', path: 'auth.signIn', body: JSON.stringify({ username: user.username, password: 'correct horse battery' }), user: null };
    const node = await viaNode(call);
    const trpc = await viaTrpc(call);
    expect(node.status).toBe(200);
    expect(node).toEqual(trpc);
    expect(node.cookies).toHaveLength(1);
  });

  it('leaves what it does not answer exactly to tRPC', async () => {
    const cases: Call[] = [
      { method: 'GET', path: 'nothing.here' },
      { method: 'GET', path: `message.send?${q({ ...ref, id: randomUUID(), content: 'a GET to a mutation' })}` },
      { method: 'POST', path: 'project.get', body: JSON.stringify({ projectId: ref.projectId }) },
      { method: 'GET', path: 'project.get?input=%7Bnot%20json' },
      { method: 'POST', path: 'message.send', body: '{"projectId":' },
      { method: 'POST', path: 'message.send', body: '' },
      { method: 'POST', path: 'message.send,project.get?batch=1', body: JSON.stringify({ 0: {}, 1: {} }) },
      { method: 'POST', path: 'message.send?batch=1', body: '[1]' },
      { method: 'GET', path: `project.get?batch=1&${q({ 0: { projectId: ref.projectId } })}`, headers: { 'trpc-accept': 'application/jsonl' } },
      { method: 'PUT', path: 'message.send', body: '{}' },
      // What tRPC reads as the path `Xproject.list` (and the guard with it) is not project.list.
      { method: 'GET', path: '../trpcXproject.list' },
    ];
    for (const call of cases) {
      const { answer, direct } = await sideBySide(call, { once: true });
      expect(direct, `${call.method} ${call.path}`).toBe(false);
      expect(answer.status, `${call.method} ${call.path}`).not.toBe(500);
    }
  });
});
