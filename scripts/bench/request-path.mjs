// The request path: the same calls through each way of serving /api/trpc, side by side on one build
// and one Redis, each in a fresh app process: the production server (scripts/server.mjs: tRPC's Node
// adapter in front of Next) and a bare `next start` (the App Router route, which `next dev` serves).
// A third, the Pages Router API route (Node req/res inside Next), was measured as scaffolding and
// removed: it cost as much as the App Router route (README, "Performance").
// Per variant: GET /api/health (Next's own handling in both, the framework's baseline),
// message.send at c=1 and c=N, and a fan-out to SSE subscribers, with the app's CPU per operation.
// Stops the main app first (the durable phase after it starts its own).
import { randomUUID } from 'node:crypto';
import { fanout } from './fanout.mjs';
import { Api } from './lib/http-client.mjs';
import { SIZES } from './lib/options.mjs';
import { closers, startApp, state, stopApp } from './lib/processes.mjs';
import { addRow, phase, report, round } from './lib/report.mjs';
import { concurrently, messageContent } from './lib/workload.mjs';

/**
 * @typedef {object} Variant
 * @property {string} key
 * @property {string} label
 * @property {import('./lib/processes.mjs').AppServer} server
 * @property {string} [endpoint] where tRPC answers (default /api/trpc)
 */

/** @type {Variant[]} */
const VARIANTS = [
  { key: 'nodeServer', label: 'custom server, Node path', server: 'server' },
  { key: 'appRouter', label: 'next start, App Router route', server: 'next' },
];

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  await stopApp();
  const redisUrl = state.redisServer?.url;
  if (!redisUrl) throw new Error('request path: no Redis');
  for (const variant of VARIANTS) {
    const port = await startApp(redisUrl, {}, variant.server);
    try {
      report.requestPath[variant.key] = await measure(ctx, variant, port);
    } finally {
      await stopApp();
    }
  }
}

/**
 * @param {import('./index.mjs').BenchContext} ctx @param {Variant} variant @param {number} port
 */
async function measure(ctx, variant, port) {
  const { warmup, n, concurrency } = SIZES.requestPath;
  const one = new Api(port, 1, variant.endpoint);
  const many = new Api(port, concurrency, variant.endpoint);
  one.cookie = many.cookie = ctx.api.cookie;
  closers.push(() => one.close(), () => many.close());
  const sessionId = /** @type {string} */ (
    (await one.mutation('session.create', { projectId: ctx.pid, title: `request path: ${variant.label}` })).id
  );
  const health = async (/** @type {Api} */ client) => {
    const res = await client.raw('GET', '/api/health', undefined);
    if (res.status !== 200) throw new Error(`GET /api/health: HTTP ${res.status}`);
  };
  const send = async (/** @type {Api} */ client) => {
    await client.mutation('message.send', { projectId: ctx.pid, sessionId, id: randomUUID(), content: messageContent() });
  };

  const label = `request path [${variant.label}]`;
  /** @type {Record<string, any>} */
  const figures = { label: variant.label };
  for (const [what, call] of /** @type {const} */ ([['GET /api/health', health], ['message.send', send]])) {
    await concurrently(warmup, concurrency, () => call(many));
    const c1 = await phase(`${label}: ${what}, c=1`, async () => {
      const { samples } = await concurrently(n, 1, () => call(one));
      return addRow(`${label}: ${what}, c=1`, samples);
    }, { ops: n, unit: 'request' });
    const cN = await phase(`${label}: ${what}, c=${concurrency}`, async () => {
      const { samples, wallMs } = await concurrently(n, concurrency, () => call(many));
      return addRow(`${label}: ${what}, c=${concurrency}`, samples, wallMs);
    }, { ops: n, unit: 'request' });
    const cpu = report.cpu.at(-1)?.appCpuMsPerOp ?? null;
    figures[what === 'message.send' ? 'send' : 'health'] = {
      c1P50Ms: round(c1.p50),
      c1P99Ms: round(c1.p99),
      cNThroughput: round(cN.throughput ?? NaN, 0),
      cNP50Ms: round(cN.p50),
      appCpuMsPerRequestCN: cpu,
    };
  }
  // Fan-out through this path: the app's CPU per delivery (an SSE event written to one subscriber).
  const messages = Math.max(20, Math.round(SIZES.fanout.messages / 3));
  const fan = await phase(`${label}: fan-out`, () => fanout({ api: one, port, cookie: one.cookie, messages, label: `${label}: fan-out` }), {
    ops: SIZES.fanout.subscribers * messages,
    unit: 'delivery',
  });
  figures.fanout = { p50Ms: round(fan.p50), p99Ms: round(fan.p99), appCpuMsPerDelivery: report.cpu.at(-1)?.appCpuMsPerOp ?? null };
  // The framework's own baseline in this process: send throughput over health throughput.
  figures.sendOverHealthThroughput = round((figures.send.cNThroughput ?? 0) / (figures.health.cNThroughput || 1), 2);
  one.close();
  many.close();
  return figures;
}
