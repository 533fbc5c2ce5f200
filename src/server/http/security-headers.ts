import 'server-only';
import { env } from '~/server/env';

/**
 * The security headers of every page (set by src/proxy.ts). One function per concern so the README
 * table, the proxy and the tests agree.
 */

/** A fresh, unguessable nonce per page response (128 random bits, base64). */
export function newNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
}

/**
 * Scripts run only with this response's nonce ('strict-dynamic' lets Next's nonce'd loader pull in
 * its chunks); styles come from our own stylesheets or nonce'd tags; nothing else loads from other
 * origins, nothing may frame the app. `next dev` needs 'unsafe-eval' (React rebuilds server error
 * stacks with eval) and inline styles for hot reload; production has neither.
 */
export function contentSecurityPolicy(nonce: string, dev = env.NODE_ENV === 'development'): string {
  const directives = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    // A nonce disables 'unsafe-inline', so dev gets 'unsafe-inline' instead of the nonce.
    dev ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${dev ? ' ws: wss:' : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(env.COOKIE_SECURE ? ['upgrade-insecure-requests'] : []),
  ];
  return directives.join('; ');
}

/** The headers that do not depend on the response: the same on every page. */
export function staticSecurityHeaders(): Record<string, string> {
  return {
    'X-Content-Type-Options': 'nosniff',
    // Our URLs carry project and session ids; other sites learn nothing of them.
    'Referrer-Policy': 'same-origin',
    // For browsers that predate frame-ancestors.
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    // Only behind HTTPS (COOKIE_SECURE): HSTS on plain http would be ignored, and on localhost harmful.
    ...(env.COOKIE_SECURE ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}),
  };
}
