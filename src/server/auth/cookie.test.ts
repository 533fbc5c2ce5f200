import { describe, expect, it } from 'vitest';
import { clearedSessionCookie, readSessionToken, sessionCookie } from './cookie';

describe('session cookie', () => {
  it('reads our token among other cookies', () => {
    expect(readSessionToken('a=1; parley_session=abc%2Bdef; b=2')).toBe('abc+def');
  });

  it.each([null, '', 'other=1', 'parley_session=', 'parley_session=%', 'parley_session=%E0%A4%A', 'parley_session=%zz'])(
    'reads %j as no cookie (never a URIError)',
    (header) => {
      expect(readSessionToken(header)).toBeNull();
    },
  );

  it('clears with the same attributes it sets', () => {
    const set = sessionCookie('t');
    const cleared = clearedSessionCookie();
    expect(cleared).toMatch(/^parley_session=; /);
    expect(cleared).toMatch(/Max-Age=0$/);
    for (const attr of ['Path=/', 'HttpOnly', 'SameSite=Lax']) {
      expect(set).toContain(attr);
      expect(cleared).toContain(attr);
    }
  });
});
