// A real HTTP server that speaks the OpenAI chat-completions streaming protocol (SSE `data:` chunks,
// then `data: [DONE]`), scripted per request: a normal answer, slow tokens (a fixed token rate), a hold
// (the stream stops until release(), or forever: a hang), an error mid-stream (the connection drops),
// or an HTTP error status (429). Loopback only, no network. The AI PM's integration tests, the e2e spec
// and the benchmark all use it (typed for TypeScript in src/server/testing/fake-openai.ts).
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * @typedef {object} Script
 * @property {string[]} [tokens] the answer's text pieces, one SSE chunk each
 * @property {number} [delayMs] pause before each token (slow tokens, a fixed rate)
 * @property {number} [holdAfter] after this many tokens, stop sending until release() (never: a hang)
 * @property {number} [failAfter] after this many tokens, drop the connection (an error mid-stream)
 * @property {number} [status] answer with this HTTP status and an OpenAI-style error body (e.g. 429)
 */

export const DEFAULT_ANSWER = [
  'Friday ',
  'works if ',
  'we freeze ',
  'scope today.\n\n',
  '## Technical instruction\n',
  'Cut a release branch ',
  'by Wednesday.\n\n',
  'Confidence: 0.82',
];

/**
 * @param {{ fallback?: Script, port?: number }} [opts]
 */
export async function startFakeOpenAI(opts = {}) {
  /** @type {Script[]} */
  const queue = [];
  /** @type {Array<{ model: string, messages: { role: string, content: string }[], stream: boolean, maxTokens: number | null, authorization: string | null, receivedAt: number, firstTokenAt: number | null }>} */
  const requests = [];
  /** @type {() => void} */
  let releaseAll = () => undefined;
  let released = new Promise((resolve) => (releaseAll = () => resolve(undefined)));
  let open = 0;
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const api = {
    url: '',
    requests,
    /** @type {Script} */
    fallback: opts.fallback ?? { tokens: DEFAULT_ANSWER },
    /** Scripts for the next requests, in order; when none is queued, `fallback` answers. */
    enqueue: (/** @type {Script[]} */ ...scripts) => {
      queue.push(...scripts);
    },
    /** Lets every held stream go on. */
    release: () => {
      releaseAll();
      released = new Promise((resolve) => (releaseAll = () => resolve(undefined)));
    },
    /** Streams in progress. */
    open: () => open,
    close: async () => {
      releaseAll();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function handle(req, res) {
    /** @type {Buffer[]} */
    const chunks = [];
    for await (const c of req) chunks.push(c);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const record = {
      model: body.model,
      messages: body.messages,
      stream: body.stream === true,
      maxTokens: body.max_tokens ?? null,
      authorization: req.headers.authorization ?? null,
      receivedAt: performance.now(),
      /** @type {number | null} when the first token was written to the socket (performance.now()) */
      firstTokenAt: null,
    };
    requests.push(record);
    const script = queue.shift() ?? api.fallback;
    if (script.status) {
      res.writeHead(script.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `scripted status ${script.status}`, type: 'rate_limit_error' } }));
      return;
    }
    open++;
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const closedOrReleased = () => Promise.race([released, new Promise((r) => res.once('close', r))]);
    try {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const id = `chatcmpl-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const send = (/** @type {Record<string, unknown>} */ delta, /** @type {string | null} */ finish, extra = {}) =>
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`,
        );
      const tokens = script.tokens ?? DEFAULT_ANSWER;
      for (let i = 0; i < tokens.length; i++) {
        if (closed) return;
        if (script.holdAfter === i) await closedOrReleased();
        if (script.failAfter === i) {
          // Let the chunks already written reach the client first, then drop the connection.
          await new Promise((r) => setTimeout(r, 100));
          res.destroy();
          return;
        }
        if (script.delayMs) await new Promise((r) => setTimeout(r, script.delayMs));
        if (closed) return;
        send(i === 0 ? { role: 'assistant', content: tokens[i] } : { content: tokens[i] }, null);
        if (i === 0) record.firstTokenAt = performance.now();
      }
      if (script.holdAfter === tokens.length) await closedOrReleased();
      if (closed) return;
      const promptTokens = body.messages.reduce(
        (/** @type {number} */ n, /** @type {{ content: unknown }} */ m) => n + Math.ceil(String(m.content).length / 4),
        0,
      );
      send({}, 'stop', { usage: { prompt_tokens: promptTokens, completion_tokens: tokens.length, total_tokens: promptTokens + tokens.length } });
      res.end('data: [DONE]\n\n');
    } finally {
      open--;
    }
  }

  await new Promise((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  api.url = `http://127.0.0.1:${address.port}/v1`;
  return api;
}
