// The production server (`npm start`, the e2e tests and the bench run it): one Node HTTP server that
// answers /api/trpc itself, on Node's req/res (src/server/http/node-trpc.ts), and hands everything else to Next.
//
//   node scripts/server.mjs [-p <port>] [-H <hostname>]      (defaults: env PORT or 3000, all interfaces)
//
// Why not `next start`: Next's routing around a route handler costs more CPU than the tRPC call itself
// (README, "Speed"); this path skips it for the API and leaves pages, assets and the other routes
// (/api/health, /api/metrics) to Next exactly as before. The handler is the app's own TypeScript,
// compiled by `next build` into the instrumentation bundle, which publishes it on globalThis when
// Next runs register() (src/server/http/node-trpc.ts). Until then /api/trpc goes to Next's App Router
// route, which runs the same handler; `npm run dev` (`next dev`) always does.
import http from 'node:http';
import path from 'node:path';

const USAGE = 'Usage: node scripts/server.mjs [-p <port>] [-H <hostname>]';
const args = process.argv.slice(2);
let port = Number(process.env.PORT ?? 3000);
/** @type {string | undefined} */
let hostname;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = args[i + 1];
  if ((arg === '-p' || arg === '--port') && value) {
    port = Number(value);
    i++;
  } else if ((arg === '-H' || arg === '--hostname') && value) {
    hostname = value;
    i++;
  } else {
    console.error(`Unknown argument: ${arg}\n${USAGE}`);
    process.exit(2);
  }
}
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`The port must be a TCP port number, got ${port}\n${USAGE}`);
  process.exit(2);
}

// What `next start` sets before loading the app (env.ts and React read it), and the project root as the
// working directory, wherever this was started from (the app reads files relative to it: the Lua scripts).
process.env.NODE_ENV = 'production';
const root = path.resolve(import.meta.dirname, '..');
process.chdir(root);
const { default: next } = await import('next');

const TRPC_PREFIX = '/api/trpc/';
const HANDLER_KEY = Symbol.for('parley.nodeTrpcHandler');

const app = next({ dev: false, dir: root, hostname: hostname ?? 'localhost', port });
await app.prepare();
const handleNext = app.getRequestHandler();

const server = http.createServer((req, res) => {
  /** @type {((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | undefined} */
  const handleTrpc = /** @type {any} */ (globalThis)[HANDLER_KEY];
  const handle = handleTrpc && req.url?.startsWith(TRPC_PREFIX) ? handleTrpc : handleNext;
  // Both answer their own errors; one that still escapes is a bug: logged, and the request gets a 500.
  handle(req, res).catch((/** @type {unknown} */ err) => {
    console.error(`Parley: ${req.method} ${req.url?.split('?')[0]} failed:`, err);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end();
  });
});

server.listen(port, hostname, () => {
  console.log(`Parley: listening on http://${hostname ?? 'localhost'}:${port} (production; /api/trpc on Node)`);
  // Next runs instrumentation's register() (which publishes the /api/trpc handler) on the first
  // request it serves: make that happen now rather than on a user's request.
  const warm = http.get({ host: hostname === '0.0.0.0' || !hostname ? '127.0.0.1' : hostname, port, path: '/api/health' }, (res) => res.resume());
  warm.on('error', (err) => console.error(`Parley: warm-up request failed: ${err.message}`));
});

let stopping = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // Open event streams would hold close() forever; their clients reconnect to the next server.
    server.close();
    server.closeAllConnections();
    void app.close().finally(() => process.exit(0));
  });
}
