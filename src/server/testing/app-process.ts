/**
 * The app's real server stack in CHILD processes (src/server/testing/fault-server.ts: tRPC over HTTP,
 * SSE subscriptions, the durable tier when DATABASE_URL is set), and an HTTP client for it speaking
 * tRPC's wire format: calls, SSE subscribers that resume from their last event id like
 * httpSubscriptionLink, and senders that retry each message with the same id until acknowledged.
 * Used by the suites that must watch a server process (fault injection) or run several (the cluster).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { findFreePort } from '../../../scripts/lib/redis-server.mjs';
import type { ChatEvent, MessageDTO } from '~/shared/types';
import { waitFor } from './wait';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export interface AppProcess {
  baseUrl: string;
  /** How the process ended ("code X, signal Y"), if it did: empty while it runs. */
  exits: string[];
  /** Its recent stdout and stderr. */
  output: string[];
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** Starts fault-server.ts on a free port with `env` on top of this process's environment. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const port = await findFreePort();
  const child: ChildProcess = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'src/server/testing/fault-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exits: string[] = [];
  const output: string[] = [];
  child.on('exit', (code, signal) => exits.push(`code ${code}, signal ${signal}`));
  const listening = new Promise<void>((resolve) => {
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output.push(text);
      if (output.length > 400) output.splice(0, output.length - 400);
      if (/^listening \d+$/m.test(text)) resolve();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
  });
  const app: AppProcess = {
    baseUrl: `http://localhost:${port}`,
    exits,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  try {
    await Promise.race([
      listening,
      waitFor(() => exits.length > 0, 60_000, 'the app server to listen').then(() => {
        throw new Error(`the app server exited during start (${exits[0]}):\n${output.join('')}`);
      }),
    ]);
  } catch (err) {
    await app.stop();
    throw err;
  }
  return app;
}

export class TrpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(baseUrl: string, procedure: string, input: unknown, cookie?: string): Promise<{ data: T; setCookie: string[] }> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/api/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new TrpcError(0, 'NETWORK', (err as Error).message);
  }
  const body = (await res.json().catch(() => null)) as
    | { result: { data: T } }
    | { error: { message: string; data?: { code?: string } } }
    | null;
  if (res.ok && body && 'result' in body) return { data: body.result.data, setCookie: res.headers.getSetCookie() };
  const error = body && 'error' in body ? body.error : null;
  throw new TrpcError(res.status, error?.data?.code ?? 'UNKNOWN', error?.message ?? `HTTP ${res.status}`);
}

/** Retries a call while the app answers "unavailable" (a fault is in progress), up to `timeoutMs`. */
export async function callUntilServed<T>(baseUrl: string, procedure: string, input: unknown, cookie?: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call<T>(baseUrl, procedure, input, cookie);
    } catch (err) {
      const retriable = err instanceof TrpcError && (err.status === 0 || err.status >= 500 || err.code === 'TIMEOUT');
      if (!retriable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface Subscriber {
  /** Every tracked event id received, in order (a repeat would be a duplicate delivery). */
  eventIds: string[];
  /** message.created per message id. */
  created: Map<string, number>;
  resyncs: number;
  connections: number;
  stop(): Promise<void>;
}

/** An SSE subscriber like httpSubscriptionLink: resumes from the last event id after any break. */
export function subscribe(baseUrl: string, projectId: string, cookie: string): Subscriber {
  const s: Subscriber = {
    eventIds: [],
    created: new Map(),
    resyncs: 0,
    connections: 0,
    stop: async () => {
      stopped = true;
      abort?.abort();
      await loop;
    },
  };
  let stopped = false;
  let abort: AbortController | null = null;
  let lastEventId: string | null = null;

  const handle = (block: string) => {
    let id: string | null = null;
    let event: string | null = null;
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (event !== null || !id) return; // connected, ping, return, serialized-error (the stream then ends)
    lastEventId = id;
    s.eventIds.push(id);
    const e = JSON.parse(data) as ChatEvent;
    if (e.type === 'message.created') s.created.set(e.message.id, (s.created.get(e.message.id) ?? 0) + 1);
    if (e.type === 'resync') s.resyncs++;
  };

  const loop = (async () => {
    for (let attempt = 0; !stopped && attempt < 500; attempt++) {
      abort = new AbortController();
      try {
        const input = encodeURIComponent(JSON.stringify({ projectId, lastEventId }));
        const res = await fetch(`${baseUrl}/api/trpc/events.subscribe?input=${input}`, {
          headers: { cookie, accept: 'text/event-stream' },
          signal: abort.signal,
        });
        if (res.ok && res.body) {
          s.connections++;
          const decoder = new TextDecoder();
          let buffered = '';
          for await (const chunk of res.body) {
            buffered += decoder.decode(chunk, { stream: true });
            let end: number;
            while ((end = buffered.indexOf('\n\n')) !== -1) {
              const block = buffered.slice(0, end);
              buffered = buffered.slice(end + 2);
              if (block.trim()) handle(block);
            }
          }
        }
      } catch {
        // The stream broke (the app lost Redis, or stop()): resume from lastEventId below.
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return s;
}

export interface Sender {
  acknowledged: string[];
  failedAttempts: number;
  stop(): Promise<void>;
}

/** Sends one message after another; each is retried with the SAME id until acknowledged. */
export function sender(baseUrl: string, ref: { projectId: string; sessionId: string }, cookie: string, label: string): Sender {
  const s: Sender = {
    acknowledged: [],
    failedAttempts: 0,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped && n < 5000; n++) {
      const id = randomUUID();
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await call<MessageDTO>(baseUrl, 'message.send', { ...ref, id, content: `${label} ${n}` }, cookie);
          s.acknowledged.push(id);
          break;
        } catch (err) {
          s.failedAttempts++;
          // A refused send (4xx) is a bug here; an unavailable one is retried with the same id.
          if (err instanceof TrpcError && err.status >= 400 && err.status < 500 && err.code !== 'TIMEOUT') throw err;
          if (Date.now() > deadline) throw new Error(`send ${id} not acknowledged within 30 s`, { cause: err });
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  })();
  return s;
}

