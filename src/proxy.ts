/**
 * Next 16's request proxy (formerly middleware.ts): gives every page a fresh CSP nonce and the
 * security headers (src/server/http/security-headers.ts). Next reads the nonce from the request's
 * Content-Security-Policy header and puts it on its own scripts, so the policy goes on the request
 * (for rendering) and on the response (for the browser).
 *
 * API routes are not matched (they are not documents and set their own nosniff), nor static files.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { contentSecurityPolicy, newNonce, staticSecurityHeaders } from '~/server/http/security-headers';

export function proxy(request: NextRequest) {
  const nonce = newNonce();
  const csp = contentSecurityPolicy(nonce);

  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('x-nonce', nonce);
  requestHeaders.set('Content-Security-Policy', csp);

  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set('Content-Security-Policy', csp);
  for (const [name, value] of Object.entries(staticSecurityHeaders())) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [
    {
      source: '/((?!api/|_next/static|_next/image|favicon.ico|icon.svg).*)',
      // Router prefetches fetch RSC payloads, not documents; they need no nonce.
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
};
