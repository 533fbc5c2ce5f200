import { aiEnabled } from '~/server/ai/settings';
import { getServices } from '~/server/context';
import { withDeadline } from '~/server/durable/tiered';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * GET /api/health, for load balancers, monitors and e2e.
 *
 * Without the durable tier: 200 `{"status":"ok","redis":"up",...}` when Redis answers, else 503.
 * With it (DATABASE_URL set) the app can serve while ONE of its stores is down, so:
 *   - both up: 200 "ok" (or "degraded" when dead letters or failed replays need an operator);
 *   - Redis down, PostgreSQL up: 200 "degraded" (reads from PostgreSQL, sends kept there);
 *   - PostgreSQL down, Redis up: 200 "degraded" (everything works; the outbox backlog grows);
 *   - both down: 503 "unavailable".
 * It also reports the breaker state, the outbox lag (entries not yet in PostgreSQL, age of the oldest)
 * and dead letters.
 */
export async function GET() {
  const { redis, hub, durable } = getServices();
  const started = performance.now();
  let redisUp: boolean;
  try {
    redisUp = (await withDeadline(redis.ping(), 1000)) === 'PONG';
  } catch {
    redisUp = false;
  }
  const redisLatencyMs = Math.round((performance.now() - started) * 100) / 100;
  // "ai": "on" when a model server is configured (AI_BASE_URL), else "off"; the chat works either way.
  const common = {
    ai: aiEnabled() ? 'on' : 'off',
    followedProjects: hub.followedProjects,
    uptimeSeconds: Math.round(process.uptime()),
  };
  const headers = { 'Cache-Control': 'no-store' };

  if (!durable) {
    const body = { status: redisUp ? 'ok' : 'unavailable', redis: redisUp ? 'up' : 'down', redisLatencyMs, ...common };
    return Response.json(body, { status: redisUp ? 200 : 503, headers });
  }

  const stats = await durable.stats();
  const pgUp = stats.postgres === 'up';
  const needsOperator = (stats.outbox?.deadLetters ?? 0) > 0 || (stats.failover?.failed ?? 0) > 0;
  const status = !redisUp && !pgUp ? 'unavailable' : redisUp && pgUp && !needsOperator ? 'ok' : 'degraded';
  const body = {
    status,
    redis: redisUp ? 'up' : 'down',
    redisLatencyMs,
    postgres: stats.postgres,
    breaker: stats.breaker,
    outbox: stats.outbox
      ? {
          entries: stats.outbox.entries,
          oldestAgeSeconds: Math.round(stats.outbox.oldestAgeSeconds * 10) / 10,
          deadLetters: stats.outbox.deadLetters,
        }
      : null,
    failover: stats.failover,
    ...common,
  };
  return Response.json(body, { status: status === 'unavailable' ? 503 : 200, headers });
}
