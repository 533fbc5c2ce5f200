/**
 * The app's server stack without Next, in a process of its own, for the fault-injection suite
 * (src/server/durable/fault-injection.integration.test.ts): the same tRPC router, context, services,
 * durable-tier boot (migrations, outbox consumer, backfill) and health handler as `next start`, over
 * node:http. A test can watch this process and see it die, which it cannot do for code running inside
 * its own worker. Configured by the environment like the real server (REDIS_URL, DATABASE_URL, ...),
 * and PORT; prints `listening <port>` on stdout once it serves.
 *
 * Run: node --conditions=react-server --import tsx src/server/testing/fault-server.ts
 * (`react-server` resolves `server-only` to its no-op, as inside Next's server bundle.)
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { GET as health } from '~/app/api/health/route';
import { startDurableTier } from '~/server/durable/boot';
import { env } from '~/server/env';
import { errorFields, logger } from '~/server/log';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';

const log = logger('fault-server');

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  // The request's signal ends a subscription's stream when the client goes away, as in Next.
  const abort = new AbortController();
  res.on('close', () => abort.abort());

  let response: Response;
  if (url.pathname === '/api/health') {
    response = await health();
  } else if (url.pathname.startsWith('/api/trpc/')) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    }
    const request = new Request(url, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      signal: abort.signal,
    });
    response = await fetchRequestHandler({ endpoint: '/api/trpc', req: request, router: appRouter, createContext });
  } else {
    response = new Response('not found', { status: 404 });
  }

  res.statusCode = response.status;
  const cookies = response.headers.getSetCookie();
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  body.on('error', () => res.destroy());
  res.on('close', () => body.destroy());
  body.pipe(res);
}

async function main() {
  await startDurableTier();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ ...errorFields(err) }, 'request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  server.listen(env.PORT, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : env.PORT}\n`);
  });
  // The test stops this process with SIGTERM; anything else that ends it is what the suite looks for.
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

void main();
