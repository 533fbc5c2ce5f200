import { getServices } from '~/server/context';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** 200 with redis "up" when the store answers, 503 otherwise (used by load balancers and e2e). */
export async function GET() {
  const { redis, hub } = getServices();
  const started = performance.now();
  let redisUp: boolean;
  try {
    redisUp = (await redis.ping()) === 'PONG';
  } catch {
    redisUp = false;
  }
  const body = {
    status: redisUp ? 'ok' : 'unavailable',
    redis: redisUp ? 'up' : 'down',
    redisLatencyMs: Math.round((performance.now() - started) * 100) / 100,
    followedProjects: hub.followedProjects,
    uptimeSeconds: Math.round(process.uptime()),
  };
  return Response.json(body, { status: redisUp ? 200 : 503, headers: { 'Cache-Control': 'no-store' } });
}
