import { timingSafeEqual } from 'node:crypto';
import { getServices } from '~/server/context';
import { env } from '~/server/env';
import { metrics } from '~/server/metrics';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * GET /api/metrics: Prometheus text format (prom-client).
 *
 * - METRICS_TOKEN set: the scraper must send `Authorization: Bearer <token>`, else 401.
 * - No token in production (NODE_ENV=production): 404, as if the route did not exist - metrics name
 *   procedures, store timings and load, which the public should not read.
 * - No token in development and tests: open, for a local Prometheus or curl.
 */
export async function GET(req: Request) {
  if (env.METRICS_TOKEN) {
    if (!bearerMatches(req.headers.get('authorization'), env.METRICS_TOKEN)) {
      return new Response('Unauthorized\n', { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });
    }
  } else if (env.NODE_ENV === 'production') {
    return new Response('Not found\n', { status: 404 });
  }
  // Builds the services if no request did yet, so the durable tier's gauges are registered.
  getServices();
  const registry = metrics().registry;
  return new Response(await registry.metrics(), {
    headers: { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
  });
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
function bearerMatches(header: string | null, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
