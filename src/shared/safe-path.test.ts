import { describe, expect, it } from 'vitest';
import { safeNextPath } from './safe-path';

describe('safeNextPath: the one same-origin check for `next`', () => {
  it.each([
    ['/p/8f0c2f1e-0000-4000-8000-000000000000', '/p/8f0c2f1e-0000-4000-8000-000000000000'],
    ['/p/a/s/b?x=1#m', '/p/a/s/b?x=1#m'],
    ['/', '/'],
    ['/p/caf%C3%A9', '/p/caf%C3%A9'],
  ])('keeps the same-site path %j', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it.each([
    // issue 14 #4: the query string decodes `%09` to a tab, which browsers strip: `//evil.example/login`.
    '/\t/evil.example/login',
    '/\n/evil.example',
    '/\r/evil.example',
    '/\n',
    '/ /evil.example',
    '/\u0000',
    '/\u007f/evil.example',
    '//evil.example',
    '/\\evil.example',
    '/\\/evil.example',
    '/a\\b',
    'https://evil.example/',
    'javascript:alert(1)',
    'evil.example',
    '',
    '/' + 'a'.repeat(2001),
  ])('refuses %j', (input) => {
    expect(safeNextPath(input)).toBeNull();
  });

  it('takes the first of repeated parameters, and nothing from nothing', () => {
    expect(safeNextPath(['/p/1', '//evil.example'])).toBe('/p/1');
    expect(safeNextPath(['//evil.example', '/p/1'])).toBeNull();
    expect(safeNextPath(undefined)).toBeNull();
    expect(safeNextPath(null)).toBeNull();
  });

  it('refuses a path that only normalizes into another origin', () => {
    expect(safeNextPath('/.//evil.example')).toBeNull();
    expect(safeNextPath('/a/..//evil.example')).toBeNull();
  });
});
