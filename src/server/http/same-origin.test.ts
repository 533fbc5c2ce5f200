import { describe, expect, it } from 'vitest';
import { crossSiteRefusal } from './same-origin';

const req = (headers: Record<string, string>) =>
  new Request('http://localhost:3000/api/trpc/project.list', { headers: { host: 'localhost:3000', ...headers } });

describe('the same-origin rule', () => {
  it.each([
    [{ 'sec-fetch-site': 'same-origin' }],
    [{ 'sec-fetch-site': 'same-origin', origin: 'http://localhost:3000' }],
    [{ 'sec-fetch-site': 'none' }],
    [{ origin: 'http://localhost:3000' }],
    [{ origin: 'http://LOCALHOST:3000' }],
    // Behind TLS termination the app sees http while the browser says https.
    [{ origin: 'https://localhost:3000' }],
    // curl, scripts, server-side calls.
    [{}],
  ])('allows %j', (headers) => {
    expect(crossSiteRefusal(req(headers))).toBeNull();
  });

  it.each([
    [{ 'sec-fetch-site': 'cross-site' }],
    [{ 'sec-fetch-site': 'same-site' }],
    // Sec-Fetch-Site wins over a matching Origin.
    [{ 'sec-fetch-site': 'cross-site', origin: 'http://localhost:3000' }],
    [{ origin: 'https://evil.example' }],
    [{ origin: 'http://localhost:3001' }],
    [{ origin: 'http://localhost.evil.example:3000' }],
    [{ origin: 'null' }],
  ])('refuses %j', (headers) => {
    expect(crossSiteRefusal(req(headers))).toMatch(/^Cross-site request refused/);
  });
});
