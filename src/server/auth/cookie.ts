import 'server-only';
import { env } from '~/server/env';
import { LOGIN_SESSION_TTL_SECONDS } from './service';

export const SESSION_COOKIE = 'parley_session';

/** Reads our session token out of a Cookie header. */
export function readSessionToken(cookieHeader: string | null | undefined): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 ? decodeURIComponent(value) : null;
    }
  }
  return null;
}

/** httpOnly so scripts cannot read it; SameSite=Lax so other sites cannot post with it. */
export function sessionCookie(token: string): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${LOGIN_SESSION_TTL_SECONDS}`,
    ...(env.COOKIE_SECURE ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}
