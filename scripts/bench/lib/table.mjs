// Output: the table (default) or the JSON document (--json).
import { formatDuration } from '../../lib/run.mjs';
import { baselineRatio, report, round } from './report.mjs';

export function fmt(/** @type {number | null | undefined} */ x, digits = 2) {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

export function renderTable(/** @type {{ meta: Record<string, unknown>, elapsedSeconds: number | null }} */ result) {
  const m = /** @type {any} */ (result.meta);
  const lines = [];
  lines.push(
    `Parley bench (${m.mode}) - Node ${m.node}, Redis ${m.redis}, Next ${m.next}, ${m.cpus} CPUs, ` +
      `load avg at start ${m.loadAverageAtStart.join(' ')}`,
  );
  lines.push(
    `Code: ${m.commit ?? '?'}${m.dirty ? ' + local changes' : ''}, build ${m.buildId ?? '?'} of ${m.builtAt ?? '?'}. ` +
      'Bench client, app and redis-server share this machine; latencies in ms.',
  );
  lines.push('');
  const header = ['name', 'n', 'p50', 'p90', 'p99', 'max', 'throughput', 'vs base'];
  const rows = report.rows.map((r) => {
    const vs = baselineRatio(r);
    return [
      r.name,
      String(r.n),
      fmt(r.p50),
      fmt(r.p90),
      fmt(r.p99),
      fmt(r.max),
      r.throughput === null ? '' : `${fmt(r.throughput, 0)} /s`,
      vs === null ? '' : `${fmt(vs.ratio)}x ${vs.of === 'throughput' ? 'r/s' : 'p50'}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const base = report.baseline;
  if (base) {
    lines.push(
      `"vs base": each row against the framework's own baseline measured in this run: "r/s" = its throughput / ` +
        `${base.throughputName} (${fmt(base.throughput, 0)} /s), "p50" = its p50 / ${base.name} (${fmt(base.p50)} ms).`,
    );
    lines.push('');
  }
  lines.push(line(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) lines.push(line(row));

  const r = /** @type {any} */ (report.ratios);
  const mem = /** @type {any} */ (report.memory);
  if (Object.keys(r).length > 0) {
    lines.push('');
    lines.push('Ratios (seed 000 pattern / ours; > 1 means ours is faster or smaller)');
    lines.push(`  50-message page, seed straight from Redis vs ours over HTTP:   p50 ${fmt(r.pageSeedRawOverOurHttpP50)}x   p99 ${fmt(r.pageSeedRawOverOurHttpP99)}x`);
    lines.push(`  50-message page, both straight from Redis (51 RTT vs 1 RTT):   p50 ${fmt(r.pageSeedRawOverOurRawP50)}x   p99 ${fmt(r.pageSeedRawOverOurRawP99)}x`);
    lines.push(`  save, seed 4 commands vs our Lua append (both on Redis):       p50 ${fmt(r.writeSeedRawOverOurLuaP50)}x`);
    lines.push(`  save, seed 4 commands on Redis vs our message.send over HTTP:  p50 ${fmt(r.writeSeedRawOverOurHttpP50)}x`);
  }
  if (mem.messages !== undefined) {
    lines.push('');
    lines.push(`Redis memory per message (${mem.messages} messages, 80-300 chars, INFO used_memory delta)`);
    lines.push(`  ours ${fmt(mem.oursBytesPerMessage, 0)} B   seed ${fmt(mem.seedBytesPerMessage, 0)} B   ours/seed ${fmt(mem.ratio, 3)}`);
    const b = mem.oursBreakdownBytesPerMessage ?? {};
    lines.push(
      `  ours by key (MEMORY USAGE / message): body buckets ${fmt(b.messageBuckets, 0)} (${mem.bodyBuckets} ${mem.bodyBucketEncodings}), ` +
        `id index buckets ${fmt(b.idIndexBuckets, 0)}, ` +
        `event log ${fmt(b.eventLogStream, 0)} (${mem.eventLogEntries} entries kept), recent list ${fmt(b.recentList, 0)}`,
    );
    lines.push(
      `  ours without the (bounded) event log: ${fmt(mem.oursWithoutEventLogBytesPerMessage, 0)} B, ours/seed ${fmt(mem.ratioWithoutEventLog, 3)}`,
    );
    lines.push(
      `  seed by key: message key ${fmt(mem.seedMessageKeyBytes, 0)} B each (+ key in the keyspace and expires dicts), ` +
        `id list ${fmt(mem.seedListBytesPerMessage, 0)} B/message; avg JSON body ours ${fmt(mem.avgBodyBytes?.ours, 0)} B, seed ${fmt(mem.avgBodyBytes?.seed, 0)} B`,
    );
  }
  const f = /** @type {any} */ (report.fanout);
  if (f.expectedDeliveries !== undefined) {
    lines.push('');
    lines.push(
      `Fan-out: ${f.subscribers} subscribers x ${f.messages} messages: ${f.delivered}/${f.expectedDeliveries} delivered, ` +
        `${f.missing} missing, ${f.duplicates} duplicate, ${f.unexpected} unexpected, ${f.outOfOrder} out of order: ` +
        (f.exactlyOnceInOrder ? 'OK, every subscriber got every message exactly once, in order' : 'FAILED'),
    );
  }

  const rp = Object.values(report.requestPath);
  if (rp.length > 0) {
    lines.push('');
    lines.push('Request path: the same calls through each way of serving /api/trpc (a fresh process each, same build and Redis)');
    for (const v of rp) {
      lines.push(
        `  ${v.label}: message.send c=1 p50 ${fmt(v.send.c1P50Ms)} ms, c=N ${fmt(v.send.cNThroughput, 0)}/s at ` +
          `${fmt(v.send.appCpuMsPerRequestCN, 3)} ms app CPU each; GET /api/health c=N ${fmt(v.health.cNThroughput, 0)}/s at ` +
          `${fmt(v.health.appCpuMsPerRequestCN, 3)} ms; sends/s over health/s ${fmt(v.sendOverHealthThroughput)}x; ` +
          `fan-out p99 ${fmt(v.fanout?.p99Ms)} ms at ${fmt(v.fanout?.appCpuMsPerDelivery, 3)} ms app CPU per delivery`,
      );
    }
  }

  const d = report.durable;
  lines.push('');
  if (d.skipped) {
    lines.push(`Durable tier: skipped (${d.reason})`);
  } else if (d.drain) {
    lines.push(
      `Durable tier (PostgreSQL, database ${d.database}, dropped): ${d.drain.entries} outbox entries drained in ${fmt(d.drain.seconds)} s ` +
        `= ${fmt(d.drain.entriesPerSecond, 0)} msgs/s; ${d.persistedMessages}/${d.messages} messages in PostgreSQL`,
    );
    lines.push(
      `  Redis killed: message.list (50) first read ${fmt(d.failover.firstReadMs)} ms, then ${d.failover.steadyCalls} reads ` +
        `p50 ${fmt(d.failover.steadyP50Ms)} / p99 ${fmt(d.failover.steadyP99Ms)} ms, ${d.failover.badAnswers} not 200 with 50 items; ` +
        `health "${d.recovery.health}" ${fmt(d.recovery.seconds)} s after Redis restarted`,
    );
  }

  const a = report.ai;
  if (a.generations !== undefined) {
    lines.push('');
    lines.push(
      `AI PM: ${a.delivered}/${a.generations} answers of ${a.tokensPerAnswer} tokens (one every ${a.tokenIntervalMs} ms) in ${fmt(a.wallSeconds)} s; ` +
        `first token in a tab p50 ${fmt(a.firstTokenP50Ms)} ms after the send, ${fmt(a.behindModelP50Ms)} ms (p99 ${fmt(a.behindModelP99Ms)}) behind the model; ` +
        `${fmt(a.cpuMsPerToken, 3)} ms app CPU/token (AI SDK ${fmt(a.sdkCpuMsPerToken, 3)}, Parley ${fmt(a.parleyCpuMsPerToken, 3)}); ${fmt(a.eventsPerSecond, 0)} events/s to the tab; ${fmt(a.logEntriesPerAnswer, 1)} log entries/answer`,
    );
  }

  lines.push('');
  lines.push('Targets');
  const tw = Math.max(...report.targets.map((t) => t.name.length));
  const vw = Math.max(...report.targets.map((t) => `${fmt(t.value)} ${t.unit}`.length));
  const gw = Math.max(...report.targets.map((t) => t.target.length));
  for (const t of report.targets) {
    lines.push(`  ${t.name.padEnd(tw)}  ${`${fmt(t.value)} ${t.unit}`.padStart(vw)}  (target ${t.target.padEnd(gw)})  ${t.met ? 'met' : 'NOT MET'}`);
  }

  lines.push('');
  lines.push('CPU by phase: average cores in use by bench client / app / redis-server / rest of the machine');
  lines.push(`(${/** @type {any} */ (result.meta).cpus} cores in all), and the app's CPU time per operation (ms; one process serves at most 1000/that per s)`);
  const pw = Math.max(...report.cpu.map((c) => c.phase.length));
  for (const c of report.cpu) {
    const perOp = c.appCpuMsPerOp ? `   app ${fmt(c.appCpuMsPerOp, 3)} ms/${c.opUnit}` : '';
    lines.push(
      `  ${c.phase.padEnd(pw)}  ${String(c.wallSeconds).padStart(6)} s   ` +
        `${fmt(c.benchCpu)} / ${fmt(c.appCpu)} / ${fmt(c.redisCpu)} / ${fmt(c.otherCpu)}${perOp}`,
    );
  }
  lines.push('');
  lines.push(`Measurements took ${formatDuration((result.elapsedSeconds ?? 0) * 1000)} (after the build and app start).`);
  return lines.join('\n');
}

export function jsonDocument(/** @type {Record<string, unknown>} */ extra) {
  return JSON.stringify(
    {
      ...extra,
      rows: report.rows.map((r) => ({
        ...r,
        p50: round(r.p50),
        p90: round(r.p90),
        p99: round(r.p99),
        max: round(r.max),
        mean: round(r.mean),
        throughput: r.throughput === null ? null : round(r.throughput, 1),
        vsBaseline: ((vs) => (vs === null ? null : { ...vs, ratio: round(vs.ratio, 3) }))(baselineRatio(r)),
      })),
      baseline: report.baseline,
      requestPath: report.requestPath,
      targets: report.targets,
      ratios: report.ratios,
      memory: report.memory,
      fanout: report.fanout,
      durable: report.durable,
      ai: report.ai,
      cpu: report.cpu,
      failures: report.failures,
    },
    null,
    2,
  );
}
