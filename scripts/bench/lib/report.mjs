// The report: rows of latency percentiles, targets, ratios and CPU by phase, filled in by the phases.
import { machineBusy, procTable, treeCpu } from './cpu.mjs';
import { progress } from './options.mjs';
import { state } from './processes.mjs';
import { now } from './workload.mjs';

/**
 * Latency summary (ms) of `samples`; throughput from `wallMs` when given.
 * @param {number[]} samples
 * @param {number} [wallMs]
 */
export function summarize(samples, wallMs) {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const pct = (/** @type {number} */ p) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
  const mean = n === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) / n;
  return {
    n,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: n === 0 ? NaN : sorted[n - 1],
    mean,
    throughput: wallMs ? n / (wallMs / 1000) : null,
  };
}

export const round = (/** @type {number} */ x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** @typedef {ReturnType<typeof summarize> & { name: string, note?: string }} Row */

export const report = {
  /** @type {Row[]} */
  rows: [],
  /** The framework's own figures in this run (see setBaseline), or null before they are measured. */
  /** @type {{ name: string, p50: number, throughputName: string, throughput: number | null } | null} */
  baseline: null,
  /** @type {Array<{ name: string, target: string, value: number | null, unit: string, met: boolean }>} */
  targets: [],
  /** @type {Record<string, unknown>} */
  ratios: {},
  /** @type {Record<string, unknown>} */
  memory: {},
  /** @type {Record<string, unknown>} */
  fanout: {},
  /** @type {Record<string, any>} */
  durable: {},
  /** @type {Record<string, any>} */
  ai: {},
  /** Request path phase: the same calls through each way of serving /api/trpc. */
  /** @type {Record<string, any>} */
  requestPath: {},
  /** @type {Array<{ phase: string, wallSeconds: number, benchCpu: number, appCpu: number, redisCpu: number, otherCpu: number, appCpuMsPerOp?: number | null, opUnit?: string, monotonicUs: number[] }>} */
  cpu: [],
  /** @type {string[]} */
  failures: [],
};

/**
 * Runs a phase, recording the CPU each of the three processes used during it. With `ops` (the HTTP
 * requests or deliveries the app handled in the phase), also the app's CPU time per operation: unlike
 * latencies, that figure hardly depends on what else the machine is doing.
 * @template T
 * @param {string} name
 * @param {() => Promise<T>} fn
 * @param {{ ops: number, unit: string }} [work]
 * @returns {Promise<T>}
 */
export async function phase(name, fn, work) {
  progress(`bench: ${name}...`);
  const mono0 = process.hrtime.bigint();
  const t0 = now();
  const bench0 = process.cpuUsage();
  const table0 = procTable();
  const busy0 = machineBusy();
  const result = await fn();
  const busy1 = machineBusy();
  const table1 = procTable();
  const bench1 = process.cpuUsage(bench0);
  const wall = (now() - t0) / 1000;
  const appPid = state.appProcess?.pid ?? -1;
  const redisPid = (state.durableRedis ?? state.redisServer)?.pid ?? -1;
  // Average cores in use over the phase (1.0 = one core busy all the time).
  const benchCpu = (bench1.user + bench1.system) / 1e6 / wall;
  const appCpu = (treeCpu(table1, appPid) - treeCpu(table0, appPid)) / wall;
  // (0 when redis-server was restarted during the phase: its pid changed.)
  const redisCpu = Math.max(0, (table1.get(redisPid)?.cpu ?? 0) - (table0.get(redisPid)?.cpu ?? 0)) / wall;
  const machineCpu = (busy1 - busy0) / wall;
  report.cpu.push({
    phase: name,
    wallSeconds: round(wall, 2) ?? 0,
    benchCpu: round(benchCpu, 2) ?? 0,
    appCpu: round(appCpu, 2) ?? 0,
    redisCpu: round(redisCpu, 2) ?? 0,
    // Everything else on the machine (other people's builds and tests skew the numbers).
    otherCpu: round(Math.max(0, machineCpu - benchCpu - appCpu - redisCpu), 2) ?? 0,
    ...(work ? { appCpuMsPerOp: round((appCpu * wall * 1000) / work.ops, 3), opUnit: work.unit } : {}),
    // CLOCK_MONOTONIC microseconds (the clock of V8 CPU profiles): to cut a profile of the app by phase.
    monotonicUs: [Number(mono0 / 1000n), Number(process.hrtime.bigint() / 1000n)],
  });
  return result;
}

/** @param {string} name @param {number[]} samples @param {number} [wallMs] @param {string} [note] */
export function addRow(name, samples, wallMs, note) {
  const row = { name, ...summarize(samples, wallMs), ...(note ? { note } : {}) };
  report.rows.push(row);
  return row;
}

/**
 * Sets the framework's own baseline of this run (GET /api/health: Next's request handling and one
 * Redis PING, no tRPC), to which every row is compared: latency rows by p50, throughput rows by
 * requests/s at the same concurrency. The machine's load moves both alike, so the ratio says more
 * than either figure on a shared 2-core machine.
 * @param {{ c1: Row, cN: Row }} rows
 */
export function setBaseline({ c1, cN }) {
  report.baseline = { name: c1.name, p50: c1.p50, throughputName: cN.name, throughput: cN.throughput };
}

/**
 * A row's ratio to the baseline: throughput / baseline throughput when it has a throughput (> 1 is
 * faster than the bare health check), else p50 / baseline p50 (> 1 is slower); null before the baseline.
 * @param {Row} row
 * @returns {{ ratio: number, of: 'throughput' | 'p50' } | null}
 */
export function baselineRatio(row) {
  const base = report.baseline;
  if (!base) return null;
  if (row.throughput !== null && base.throughput) return { ratio: row.throughput / base.throughput, of: 'throughput' };
  if (Number.isFinite(row.p50) && base.p50 > 0) return { ratio: row.p50 / base.p50, of: 'p50' };
  return null;
}

/** @param {string} name @param {string} target @param {number} value @param {string} unit @param {boolean} met */
export function addTarget(name, target, value, unit, met) {
  report.targets.push({ name, target, value: round(value, 2), unit, met });
}
