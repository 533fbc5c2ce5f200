/**
 * Who may read /api/metrics (issue 14 #11a), through the route handler's exported GET. The env module
 * is read once at import, so each case loads the route afresh under its own environment.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

async function metricsRoute(envVars: Record<string, string | undefined>) {
  vi.resetModules();
  for (const [k, v] of Object.entries(envVars)) vi.stubEnv(k, v);
  return import('~/app/api/metrics/route');
}

afterEach(async () => {
  vi.unstubAllEnvs();
  // Each fresh module graph may have built services around the test Redis; close them.
  const { getServices } = await import('~/server/context');
  const services = getServices();
  await services.hub.close();
  services.redis.disconnect();
  delete (globalThis as { parleyServices?: unknown }).parleyServices;
  delete (globalThis as { parleyRedis?: unknown }).parleyRedis;
  delete (globalThis as { parleyEventHub?: unknown }).parleyEventHub;
  delete (globalThis as { parleyDurable?: unknown }).parleyDurable;
});

const get = (headers: Record<string, string> = {}) => new Request('http://localhost:3000/api/metrics', { headers });

describe('/api/metrics access', () => {
  it('answers 404 in production without METRICS_TOKEN', async () => {
    const { GET } = await metricsRoute({ NODE_ENV: 'production', METRICS_TOKEN: undefined });
    const res = await GET(get());
    expect(res.status).toBe(404);
    expect(await res.text()).not.toMatch(/parley_/);
  });

  it('with METRICS_TOKEN wants the bearer token (401 without or with a wrong one), in production or not', async () => {
    for (const NODE_ENV of ['production', 'development']) {
      const { GET } = await metricsRoute({ NODE_ENV, METRICS_TOKEN: 's3cret-token' });
      const none = await GET(get());
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await GET(get({ authorization: 'Bearer wrong' }))).status).toBe(401);
      expect((await GET(get({ authorization: 'Bearer s3cret-token-and-more' }))).status).toBe(401);
      const ok = await GET(get({ authorization: 'Bearer s3cret-token' }));
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/parley_trpc_request_duration_seconds/);
    }
  });

  it('is open without a token outside production (development, tests)', async () => {
    const { GET } = await metricsRoute({ NODE_ENV: 'development', METRICS_TOKEN: undefined });
    const res = await GET(get());
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/parley_/);
  });
});
