// Baseline: the cheapest route the app has (GET /api/health: one Redis PING, no tRPC), to show what
// the framework's request handling alone costs on this machine; every row is compared with it.
import { addRow, phase, setBaseline } from './lib/report.mjs';
import { SIZES } from './lib/options.mjs';
import { concurrently, now } from './lib/workload.mjs';

/** @typedef {import('./lib/http-client.mjs').Api} Api */

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const { api, pool } = ctx;
  // ---- 0. baseline: the cheapest route the app has (GET /api/health: one Redis PING, no tRPC), to
  // show what Next's request handling alone costs on this machine.
  const rows = await phase('baseline: GET /api/health', async () => {
    const { warmup, n } = SIZES.baseline;
    const health = async (/** @type {Api} */ client) => {
      const t0 = now();
      const res = await client.raw('GET', '/api/health', undefined);
      if (res.status !== 200) throw new Error(`GET /api/health: HTTP ${res.status}`);
      return now() - t0;
    };
    const c1 = [];
    for (let i = 0; i < warmup + n; i++) {
      const dt = await health(api);
      if (i >= warmup) c1.push(dt);
    }
    const c1Row = addRow('baseline: GET /api/health, c=1', c1, undefined, 'Next route handler + 1 PING, no tRPC');
    const concurrency = SIZES.sendC32.concurrency;
    const { samples: cN, wallMs } = await concurrently(n, concurrency, () => health(pool));
    const cNRow = addRow(`baseline: GET /api/health, c=${concurrency}`, cN, wallMs, 'Next route handler + 1 PING, no tRPC');
    return { c1: c1Row, cN: cNRow };
  }, { ops: SIZES.baseline.warmup + 2 * SIZES.baseline.n, unit: 'request' });
  setBaseline(rows);
}
