/**
 * Observability: the Prometheus metrics and the health report, with and without the durable tier.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { GET as health } from '~/app/api/health/route';
import { GET as metricsRoute } from '~/app/api/metrics/route';
import { metrics } from '~/server/metrics';
import { useDurableTestEnv } from '~/server/testing/durable';
import { waitFor } from '~/server/testing/wait';

const env = useDurableTestEnv({ harness: { probeIntervalMs: 100 } });
// Registered after the env's afterAll, so it runs before the harness closes (afterAll hooks run in reverse).
afterAll(() => {
  metrics().setDurableStatsProvider(null);
});

/** Value of one sample line (`name{labels} value`) in Prometheus text, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
}

describe('GET /api/metrics', () => {
  it('reports request latency per procedure, store ops, outbox backlog and breaker state', async () => {
    metrics().setDurableStatsProvider(() => env.h.durable.stats());
    const alice = await env.h.user();
    const project = await alice.caller.project.create({ name: 'Metrics' });
    const session = await alice.caller.session.create({ projectId: project.id, title: 'm' });
    for (let i = 0; i < 3; i++) {
      await alice.caller.message.send({ projectId: project.id, sessionId: session.id, id: randomUUID(), content: `${i}` });
    }
    await new Promise((r) => setTimeout(r, 600)); // past the gauges' 500 ms snapshot cache
    const res = await metricsRoute(new Request('http://localhost/api/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'parley_trpc_request_duration_seconds_count', 'procedure="message.send",type="mutation",outcome="ok"')).toBeGreaterThanOrEqual(3);
    expect(text).toContain('parley_store_op_duration_seconds_bucket{le="0.005",op="message.send",backend="redis",outcome="ok"}');
    expect(sample(text, 'parley_outbox_backlog_entries')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'parley_postgres_up')).toBe(1);
    expect(sample(text, 'parley_breaker_state')).toBe(0);
    expect(text).toContain('parley_sse_subscribers');
    expect(text).toContain('parley_process_resident_memory_bytes');

    const consumer = await env.h.consumer();
    await waitFor(async () => (await env.h.durable.stats()).outbox?.entries === 0, 10_000, 'drained');
    await consumer.stop();
    await new Promise((r) => setTimeout(r, 600));
    const after = await (await metricsRoute(new Request('http://localhost/api/metrics'))).text();
    expect(sample(after, 'parley_outbox_backlog_entries')).toBe(0);
    expect(sample(after, 'parley_outbox_persisted_total', 'kind="message"')).toBeGreaterThanOrEqual(3);
  });

  it('counts breaker transitions; an open breaker serves reads from PostgreSQL and closes by itself', async () => {
    const alice = await env.h.user();
    const project = await alice.caller.project.create({ name: 'Breaker' });
    const consumer = await env.h.consumer();
    await waitFor(async () => (await env.h.durable.stats()).outbox?.entries === 0, 10_000, 'drained');
    await consumer.stop();
    const before = await metrics().registry.getSingleMetricAsString('parley_breaker_transitions_total');
    // Redis really down while the read runs: with Redis up, the breaker's probe (every 100 ms) could
    // close it before a slow read got there, and the read would then be a Redis hit, not a failover.
    await env.server.stop();
    env.h.durable.breaker.trip();
    expect(env.h.durable.breaker.state).toBe('open');
    expect((await alice.caller.project.get({ projectId: project.id })).name).toBe('Breaker');
    expect(env.h.durable.breaker.state).toBe('open');
    await env.server.restart();
    await waitFor(() => env.h.durable.breaker.state === 'closed', 10_000, 'breaker closed again');
    const text = await metrics().registry.getSingleMetricAsString('parley_breaker_transitions_total');
    expect(text).not.toEqual(before);
    expect(sample(text, 'parley_breaker_transitions_total', 'from="half_open",to="closed"')).toBeGreaterThanOrEqual(1);
    const reads = await metrics().registry.getSingleMetricAsString('parley_cache_reads_total');
    expect(sample(reads, 'parley_cache_reads_total', 'op="project.get",result="failover"')).toBeGreaterThanOrEqual(1);
  });
});

describe('GET /api/health', () => {
  it('keeps its contract without the durable tier: 200 {"status":"ok","redis":"up"}', async () => {
    const res = await health();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', redis: 'up' });
  });

  it('reports PostgreSQL, the breaker and the outbox lag with the tier on', async () => {
    const stats = await env.h.durable.stats();
    expect(stats).toMatchObject({ postgres: 'up', breaker: 'closed', outbox: { deadLetters: 0 }, failover: { pending: 0, failed: 0 } });
  });
});
