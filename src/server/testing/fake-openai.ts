/**
 * A real HTTP server that speaks the OpenAI chat-completions streaming protocol (SSE `data:` chunks,
 * then `data: [DONE]`), scripted per test: a normal answer, slow tokens, a hold (the stream stops until
 * the test releases it, or forever: a hang), an error mid-stream (the connection drops), or an HTTP
 * error status (429). No network beyond 127.0.0.1. Used by the AI PM's integration tests, the e2e
 * server (scripts/fake-openai.mjs runs the same protocol) and the benchmark.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Script {
  /** The answer's text pieces, one SSE chunk each. */
  tokens?: string[];
  /** Pause before each token (slow tokens). */
  delayMs?: number;
  /** After this many tokens, stop sending until release() (never released: a hang). */
  holdAfter?: number;
  /** After this many tokens, drop the connection (an error mid-stream). */
  failAfter?: number;
  /** Answer with this HTTP status and an OpenAI-style error body instead of a stream (e.g. 429). */
  status?: number;
}

export interface RecordedRequest {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  maxTokens: number | null;
  authorization: string | null;
}

export interface FakeOpenAI {
  /** Base URL to give the provider (ends with /v1). */
  url: string;
  requests: RecordedRequest[];
  /** Scripts for the next requests, in order; when none is queued, `fallback` answers. */
  enqueue(...scripts: Script[]): void;
  fallback: Script;
  /** Lets every held stream go on. */
  release(): void;
  /** Streams in progress (a request whose response has not ended). */
  open(): number;
  close(): Promise<void>;
}

export const DEFAULT_ANSWER: string[] = [
  'Friday ',
  'works if ',
  'we freeze ',
  'scope today.\n\n',
  '## Technical instruction\n',
  'Cut a release branch ',
  'by Wednesday.\n\n',
  'Confidence: 0.82',
];

export async function startFakeOpenAI(opts: { fallback?: Script; port?: number } = {}): Promise<FakeOpenAI> {
  const queue: Script[] = [];
  const requests: RecordedRequest[] = [];
  let releaseAll: () => void = () => undefined;
  let released = new Promise<void>((resolve) => (releaseAll = resolve));
  let open = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const api: FakeOpenAI = {
    url: '',
    requests,
    fallback: opts.fallback ?? { tokens: DEFAULT_ANSWER },
    enqueue: (...scripts) => queue.push(...scripts),
    release: () => {
      releaseAll();
      released = new Promise<void>((resolve) => (releaseAll = resolve));
    },
    open: () => open,
    close: async () => {
      releaseAll();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      model: string;
      messages: { role: string; content: string }[];
      stream?: boolean;
      max_tokens?: number;
    };
    requests.push({
      model: body.model,
      messages: body.messages,
      stream: body.stream === true,
      maxTokens: body.max_tokens ?? null,
      authorization: req.headers.authorization ?? null,
    });
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
    try {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const id = `chatcmpl-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const send = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`,
        );
      const tokens = script.tokens ?? DEFAULT_ANSWER;
      for (let i = 0; i < tokens.length; i++) {
        if (closed) return;
        if (script.holdAfter === i) await Promise.race([released, new Promise((r) => res.once('close', r))]);
        if (script.failAfter === i) {
          // Let the chunks already written reach the client first, then drop the connection.
          await new Promise((r) => setTimeout(r, 100));
          res.destroy();
          return;
        }
        if (script.delayMs) await new Promise((r) => setTimeout(r, script.delayMs));
        if (closed) return;
        send(i === 0 ? { role: 'assistant', content: tokens[i] } : { content: tokens[i] }, null);
      }
      if (script.holdAfter === tokens.length) await Promise.race([released, new Promise((r) => res.once('close', r))]);
      if (closed) return;
      const promptTokens = body.messages.reduce((n, m) => n + Math.ceil(String(m.content).length / 4), 0);
      send({}, 'stop', { usage: { prompt_tokens: promptTokens, completion_tokens: tokens.length, total_tokens: promptTokens + tokens.length } });
      res.end('data: [DONE]\n\n');
    } finally {
      open--;
    }
  }

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return api;
}
