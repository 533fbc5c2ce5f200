import { afterEach, describe, expect, it, vi } from 'vitest';

/** The module reads env at import: load it afresh under each environment. */
async function load(envVars: Record<string, string | undefined>) {
  vi.resetModules();
  for (const [k, v] of Object.entries(envVars)) vi.stubEnv(k, v);
  return import('./security-headers');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('security headers', () => {
  it('production CSP: nonce scripts and styles, no eval, no inline, nothing framed', async () => {
    const { contentSecurityPolicy } = await load({ NODE_ENV: 'production', COOKIE_SECURE: 'false' });
    const csp = contentSecurityPolicy('abc123');
    expect(csp).toContain("script-src 'self' 'nonce-abc123' 'strict-dynamic'");
    expect(csp).toContain("style-src 'self' 'nonce-abc123'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline|upgrade-insecure-requests/);
  });

  it('development CSP allows what next dev needs', async () => {
    const { contentSecurityPolicy } = await load({ NODE_ENV: 'development' });
    const csp = contentSecurityPolicy('n');
    expect(csp).toContain("'unsafe-eval'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self' ws: wss:");
  });

  it('HSTS and upgrade-insecure-requests only with COOKIE_SECURE', async () => {
    const plain = await load({ NODE_ENV: 'production', COOKIE_SECURE: 'false' });
    expect(plain.staticSecurityHeaders()['Strict-Transport-Security']).toBeUndefined();
    const secure = await load({ NODE_ENV: 'production', COOKIE_SECURE: 'true' });
    expect(secure.staticSecurityHeaders()).toMatchObject({
      'Strict-Transport-Security': 'max-age=31536000',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    });
    expect(secure.contentSecurityPolicy('n')).toContain('upgrade-insecure-requests');
  });

  it('nonces are fresh and long enough', async () => {
    const { newNonce } = await load({});
    const a = newNonce();
    expect(a).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(newNonce()).not.toBe(a);
  });
});
