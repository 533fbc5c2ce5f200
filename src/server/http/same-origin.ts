import 'server-only';

/**
 * The CSRF rule for /api/trpc. A browser attaches the session cookie to requests another site makes
 * (a form POST, an EventSource), so every API request must prove it comes from our own pages:
 *
 * 1. `Sec-Fetch-Site` present (every current browser sends it): allowed only when `same-origin`, or
 *    `none` (the user typed the URL or opened a bookmark - no other site involved). `same-site` (a
 *    sibling subdomain) and `cross-site` are refused.
 * 2. Otherwise `Origin` present (older browsers): allowed only when its host equals the request's
 *    `Host`. `Origin: null` (sandboxed frames, some redirects) is refused.
 * 3. Neither header: not a browser acting for a victim (curl, scripts, server-side calls), allowed -
 *    such a client holds its own cookie and could send any header it liked anyway.
 *
 * The scheme is not compared, so a TLS-terminating proxy in front of the app does not break it.
 * Returns why a request is refused, or null when it is allowed.
 */
export function crossSiteRefusal(req: { headers: Headers; url: string | URL }): string | null {
  const site = req.headers.get('sec-fetch-site');
  if (site !== null) {
    if (site === 'same-origin' || site === 'none') return null;
    return `Cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 20)})`;
  }
  const origin = req.headers.get('origin');
  if (origin === null) return null;
  const host = req.headers.get('host') ?? new URL(req.url).host;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return 'Cross-site request refused (opaque Origin)';
  }
  return originHost.toLowerCase() === host.toLowerCase() ? null : 'Cross-site request refused (Origin is another site)';
}
