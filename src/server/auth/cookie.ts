import 'server-only';
import { env } from '~/server/env';
import { LOGIN_SESSION_TTL_SECONDS } from './service';

export const SESSION_COOKIE = 'parley_session';

/**
 * Reads our session token out of a Cookie header. A value that is not valid percent-encoding
 * (`parley_session=%`) is no cookie at all: decodeURIComponent would throw a URIError, and a broken
 * cookie must read as "signed out", never as a 500.
 */
export function readSessionToken(cookieHeader: string | null | undefined): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      if (value.length === 0) return null;
      try {
        return decodeURIComponent(value);
      } catch {
        return null;
      }
    }
  }
  return null;
}

const attributes = () => ['Path=/', 'HttpOnly', 'SameSite=Lax', ...(env.COOKIE_SECURE ? ['Secure'] : [])];

/** httpOnly so scripts cannot read it; SameSite=Lax so other sites cannot post with it. */
export function sessionCookie(token: string): string {
  return [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, ...attributes(), `Max-Age=${LOGIN_SESSION_TTL_SECONDS}`].join(
    '; ',
  );
}

/** Sent by every sign-out, whatever the cookie held (even a malformed one), with the same attributes. */
export function clearedSessionCookie(): string {
  return [`${SESSION_COOKIE}=`, ...attributes(), 'Max-Age=0'].join('; ');
}
