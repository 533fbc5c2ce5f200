/**
 * The one same-origin path check, used by the server (the redirect after sign-in on `/`) and the
 * browser (the sign-in form's navigation). Imports nothing, so either side can use it.
 *
 * Browsers strip tabs and newlines from URLs and read `\` as `/`, so `/\t/evil.example` or
 * `/\/evil.example` become the protocol-relative `//evil.example`; a newline in a Location header also
 * makes Node throw. We refuse every control character, space and backslash outright, then resolve the
 * path against a placeholder origin and accept it only if the origin did not change.
 */
const PLACEHOLDER_ORIGIN = 'http://parley.invalid';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\\]/;

/** `next` from a query string, if it is a path on this site (never another origin); else null. */
export function safeNextPath(next: string | readonly string[] | undefined | null): string | null {
  const value = typeof next === 'string' ? next : next?.[0];
  if (!value || value.length > 2000) return null;
  if (!value.startsWith('/') || value.startsWith('//') || FORBIDDEN.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return null;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return null;
  const path = url.pathname + url.search + url.hash;
  // The normalized path must still be one we would accept (e.g. `/.//evil` normalizes to `//evil`).
  return path.startsWith('/') && !path.startsWith('//') ? path : null;
}
