import { getServices } from '~/server/context';
import { env } from '~/server/env';
import { metrics } from '~/server/metrics';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * GET /api/metrics: Prometheus text format (prom-client). When METRICS_TOKEN is set, the scraper must
 * send `Authorization: Bearer <token>`.
 */
export async function GET(req: Request) {
  if (env.METRICS_TOKEN && req.headers.get('authorization') !== `Bearer ${env.METRICS_TOKEN}`) {
    return new Response('Unauthorized\n', { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  // Builds the services if no request did yet, so the durable tier's gauges are registered.
  getServices();
  const registry = metrics().registry;
  return new Response(await registry.metrics(), {
    headers: { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' },
  });
}
