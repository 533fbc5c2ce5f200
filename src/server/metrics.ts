import 'server-only';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics (prom-client), served as text by GET /api/metrics. One registry per process,
 * kept on globalThis: Next bundles the route handlers and instrumentation separately, and dev hot
 * reload re-evaluates modules, but every copy must count into the same registry.
 *
 * Gauges that describe the durable tier (outbox backlog, dead letters, pending failover sends) are read
 * at scrape time from a provider the tier registers (setDurableStatsProvider), so a scrape always
 * reports the current state and costs a few Redis/PostgreSQL reads, nothing per request.
 */

export interface DurableStats {
  postgres: 'up' | 'down';
  breaker: BreakerState;
  outbox: { entries: number; oldestAgeSeconds: number; deadLetters: number } | null;
  failover: { pending: number; failed: number } | null;
}

export type BreakerState = 'closed' | 'open' | 'half_open';
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const registers = [registry];
  let statsProvider: (() => Promise<DurableStats>) | null = null;
  let cached: { at: number; value: Promise<DurableStats | null> } | null = null;
  // One provider call per scrape (the gauges below all ask), not one per gauge.
  const stats = () => {
    if (!cached || Date.now() - cached.at > 500) {
      cached = { at: Date.now(), value: (statsProvider ? statsProvider() : Promise.resolve(null)).catch(() => null) };
    }
    return cached.value;
  };

  return {
    registry,
    setDurableStatsProvider(provider: (() => Promise<DurableStats>) | null) {
      statsProvider = provider;
    },
    requestDuration: new Histogram({
      name: 'parley_trpc_request_duration_seconds',
      help: 'tRPC procedure latency (subscriptions: until the stream is set up), by procedure and outcome',
      labelNames: ['procedure', 'type', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storeOpDuration: new Histogram({
      name: 'parley_store_op_duration_seconds',
      help: 'Chat store and auth operations by backend (redis = the live store, postgres = failover or read-through)',
      labelNames: ['op', 'backend', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    postgresQueryDuration: new Histogram({
      name: 'parley_postgres_query_duration_seconds',
      help: 'PostgreSQL query latency by query name',
      labelNames: ['query', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    unreplicatedWrites: new Counter({
      name: 'parley_redis_unreplicated_writes_total',
      help: 'Cluster writes acknowledged before REDIS_WAIT_REPLICAS replicas had them (WAIT timed out: the master had no live replica)',
      registers,
    }),
    cacheReads: new Counter({
      name: 'parley_cache_reads_total',
      help: 'Reads by how they were served: hit (Redis), read_through (missing in Redis, re-hydrated from PostgreSQL), failover (served by PostgreSQL while Redis failed), miss (nowhere)',
      labelNames: ['op', 'result'] as const,
      registers,
    }),
    hydrations: new Counter({
      name: 'parley_rehydrations_total',
      help: 'Records copied back from PostgreSQL into Redis by read-through',
      labelNames: ['kind'] as const,
      registers,
    }),
    evictions: new Counter({
      name: 'parley_session_evictions_total',
      help: 'Idle sessions whose messages were evicted from Redis (SESSION_IDLE_EVICT_SECONDS; read-through brings them back)',
      registers,
    }),
    breakerState: new Gauge({
      name: 'parley_breaker_state',
      help: 'Redis circuit breaker: 0 closed (Redis serves), 1 half-open (reconciling), 2 open (PostgreSQL serves)',
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'parley_breaker_transitions_total',
      help: 'Circuit breaker state changes',
      labelNames: ['from', 'to'] as const,
      registers,
    }),
    failoverSends: new Counter({
      name: 'parley_failover_sends_total',
      help: 'Messages stored in PostgreSQL as pending while Redis was down',
      registers,
    }),
    reconciled: new Counter({
      name: 'parley_failover_reconciled_total',
      help: 'Pending failover messages replayed into Redis, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    outboxPersisted: new Counter({
      name: 'parley_outbox_persisted_total',
      help: 'Outbox entries persisted to PostgreSQL (acknowledged), by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    outboxBatchDuration: new Histogram({
      name: 'parley_outbox_batch_duration_seconds',
      help: 'Time to persist one outbox batch to PostgreSQL, by outcome',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    outboxRetries: new Counter({
      name: 'parley_outbox_retries_total',
      help: 'Outbox batches retried after a PostgreSQL failure, by reason (unavailable, entry)',
      labelNames: ['reason'] as const,
      registers,
    }),
    outboxReclaimed: new Counter({
      name: 'parley_outbox_reclaimed_total',
      help: 'Outbox entries reclaimed (XAUTOCLAIM) from a consumer that stopped acknowledging',
      registers,
    }),
    outboxDeadLettered: new Counter({
      name: 'parley_outbox_dead_lettered_total',
      help: 'Outbox entries this process moved to the dead-letter stream',
      registers,
    }),
    outboxBacklog: new Gauge({
      name: 'parley_outbox_backlog_entries',
      help: 'Outbox entries not yet persisted to PostgreSQL (-1 when Redis cannot be read)',
      registers,
      async collect() {
        const s = await stats();
        this.set(s?.outbox ? s.outbox.entries : -1);
      },
    }),
    outboxOldestAge: new Gauge({
      name: 'parley_outbox_oldest_age_seconds',
      help: 'Age of the oldest outbox entry not yet persisted (0 when empty)',
      registers,
      async collect() {
        const s = await stats();
        this.set(s?.outbox ? s.outbox.oldestAgeSeconds : 0);
      },
    }),
    outboxDeadLetters: new Gauge({
      name: 'parley_outbox_dead_letters',
      help: 'Entries in the dead-letter stream parley:outbox:dead (need an operator)',
      registers,
      async collect() {
        const s = await stats();
        this.set(s?.outbox ? s.outbox.deadLetters : 0);
      },
    }),
    failoverPending: new Gauge({
      name: 'parley_failover_pending_messages',
      help: 'Messages sent during a Redis outage and not yet replayed into Redis',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const s = await stats();
        this.set({ state: 'pending' }, s?.failover?.pending ?? 0);
        this.set({ state: 'failed' }, s?.failover?.failed ?? 0);
      },
    }),
    postgresUp: new Gauge({
      name: 'parley_postgres_up',
      help: '1 when PostgreSQL answers (durable tier on), 0 when not, absent without the tier',
      registers,
      async collect() {
        const s = await stats();
        if (s) this.set(s.postgres === 'up' ? 1 : 0);
      },
    }),
    sseSubscribers: new Gauge({
      name: 'parley_sse_subscribers',
      help: 'Live events.subscribe streams in this process',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const globalForMetrics = globalThis as unknown as { parleyMetrics?: Metrics };

export function metrics(): Metrics {
  globalForMetrics.parleyMetrics ??= createMetrics();
  return globalForMetrics.parleyMetrics;
}

/** Times `op` into a histogram with an `outcome` label ("ok" or "error"). */
export async function timed<T, L extends string>(
  histogram: Histogram<L | 'outcome'>,
  labels: Partial<Record<L, string>>,
  op: () => Promise<T>,
): Promise<T> {
  const end = histogram.startTimer(labels as Partial<Record<L | 'outcome', string>>);
  try {
    const result = await op();
    end({ outcome: 'ok' } as Partial<Record<L | 'outcome', string>>);
    return result;
  } catch (err) {
    end({ outcome: 'error' } as Partial<Record<L | 'outcome', string>>);
    throw err;
  }
}
