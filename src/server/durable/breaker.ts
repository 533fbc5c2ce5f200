import 'server-only';
import { errorFields, logger } from '~/server/log';
import { BREAKER_STATE_VALUE, metrics, type BreakerState } from '~/server/metrics';

const log = logger('breaker');

export interface BreakerOptions {
  /** Consecutive Redis failures that open the breaker. */
  failureThreshold: number;
  /** While open: how often to probe Redis. */
  probeIntervalMs: number;
  /** Resolves when Redis answers (e.g. a PING under a deadline); rejects otherwise. */
  probe: () => Promise<void>;
  /**
   * Runs in half-open, before the breaker closes: replays what was written to PostgreSQL during the
   * outage. Throwing a Redis failure reopens the breaker; the next probe tries again.
   */
  reconcile: () => Promise<void>;
  /** Whether an error means "Redis is unavailable" (only those count as failures). */
  isRedisFailure: (err: unknown) => boolean;
}

/**
 * A circuit breaker around Redis.
 *
 * - closed: Redis serves. Each request that fails for unavailability is served by PostgreSQL
 *   anyway (the caller falls back at once); `failureThreshold` such failures in a row open it.
 * - open: requests skip Redis (no waiting for a dead server's deadline) and go to PostgreSQL. A timer
 *   probes Redis every `probeIntervalMs`, whether or not requests arrive.
 * - half_open: the probe succeeded; the breaker reconciles (replays the outage's pending sends into
 *   Redis, which stays the seq authority) while reads still go to PostgreSQL, then closes. Sends
 *   that arrive meanwhile wait a moment for the close (so they follow the replayed ones); past that
 *   they are kept pending too and replayed by the sweeper.
 */
export class RedisBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly listeners = new Set<(state: BreakerState) => void>();

  constructor(private readonly o: BreakerOptions) {
    metrics().breakerState.set(BREAKER_STATE_VALUE.closed);
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a request should try Redis first. */
  allowsRedis(): boolean {
    return this.current === 'closed';
  }

  recordSuccess(): void {
    if (this.current === 'closed') this.failures = 0;
  }

  recordFailure(err: unknown): void {
    if (this.current !== 'closed' || !this.o.isRedisFailure(err)) return;
    this.failures++;
    if (this.failures >= this.o.failureThreshold) {
      log.warn({ failures: this.failures, ...errorFields(err) }, 'Redis failing: breaker opens, PostgreSQL serves');
      this.transition('open');
    }
  }

  /** Resolves true as soon as the breaker is closed, false if it is not within `timeoutMs`. */
  whenClosed(timeoutMs: number): Promise<boolean> {
    if (this.current === 'closed') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (closed: boolean) => {
        clearTimeout(timer);
        off();
        resolve(closed);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const off = this.onChange((state) => {
        if (state === 'closed') done(true);
        else if (state === 'open') done(false);
      });
    });
  }

  /** Opens the breaker now (e.g. an operator drill or a test). */
  trip(): void {
    if (this.current === 'closed') this.transition('open');
  }

  /** Calls `fn` on every state change (tests, health). Returns an unsubscribe function. */
  onChange(fn: (state: BreakerState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops probing (process shutdown). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private transition(to: BreakerState) {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    metrics().breakerState.set(BREAKER_STATE_VALUE[to]);
    metrics().breakerTransitions.inc({ from, to });
    if (to === 'open') this.scheduleProbe();
    if (to === 'closed') this.failures = 0;
    for (const fn of this.listeners) fn(to);
  }

  private scheduleProbe() {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probeOnce();
    }, this.o.probeIntervalMs);
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    if (this.current !== 'open' || this.closed) return;
    try {
      await this.o.probe();
    } catch {
      this.scheduleProbe();
      return;
    }
    this.transition('half_open');
    try {
      await this.o.reconcile();
      log.info('Redis is back and reconciled: breaker closes');
      this.transition('closed');
    } catch (err) {
      if (this.o.isRedisFailure(err)) {
        log.warn({ ...errorFields(err) }, 'Redis failed again while reconciling: breaker reopens');
        this.transition('open');
      } else {
        // Redis answers; what failed is elsewhere (e.g. PostgreSQL). Serve from Redis again and let
        // the periodic replay finish the job.
        log.error({ ...errorFields(err) }, 'reconcile failed; closing anyway, the replay will retry');
        this.transition('closed');
      }
    }
  }
}
