/**
 * Web security at the HTTP layer, in real Chromium against the production build: every page works
 * under the nonce-based Content-Security-Policy with no violation, the security headers are there,
 * redirects never leave the site, broken cookies are no cookie, and the e2e Redis control endpoint
 * does not exist in the app.
 */
import { expect, test, type Page, type Response } from '@playwright/test';
import { createProject, messageArticle, newSession, PASSWORD, send, signUp, uniqueUsername } from './support';

/**
 * Collects, across every navigation of the page, CSP violations (the DOM event, reported through an
 * exposed function, and Chromium's console report) and uncaught page errors.
 */
async function watchViolations(page: Page): Promise<string[]> {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to (execute|load|apply|connect|frame)/i.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.exposeFunction('__reportCspViolation', (text: string) => problems.push(`violation: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __reportCspViolation: (t: string) => void }).__reportCspViolation;
      report(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return problems;
}

function expectSecurityHeaders(res: Response | null, label: string) {
  expect(res, label).not.toBeNull();
  const h = res!.headers();
  const csp = h['content-security-policy'] ?? '';
  expect(csp, label).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{16,}' 'strict-dynamic'/);
  expect(csp, label).toContain("frame-ancestors 'none'");
  expect(csp, label).toContain("object-src 'none'");
  expect(csp, label).not.toContain('unsafe-eval');
  expect(csp, label).not.toContain('unsafe-inline');
  expect(h['x-content-type-options'], label).toBe('nosniff');
  expect(h['referrer-policy'], label).toBe('same-origin');
  expect(h['x-frame-options'], label).toBe('DENY');
  // Plain http in the tests (COOKIE_SECURE off): no HSTS.
  expect(h['strict-transport-security'], label).toBeUndefined();
  return csp;
}

test('every page works under the CSP with no violation, and a message shows live', async ({ page, context }) => {
  // Nine page loads, two tabs and a live message: longer than one flow's default 30 s on a loaded 2-core machine.
  test.setTimeout(60_000);
  const problems = await watchViolations(page);

  const home = await page.goto('/');
  const firstCsp = expectSecurityHeaders(home, '/ signed out');
  await signUp(page);
  expect(problems).toEqual([]);

  const again = await page.goto('/');
  expect(expectSecurityHeaders(again, '/ signed in')).not.toBe(firstCsp); // a fresh nonce per response
  const projectPath = await createProject(page, 'CSP check');
  expectSecurityHeaders(await page.goto(projectPath), '/p/<id>');
  await expect(page.getByRole('button', { name: 'New session' })).toBeVisible();
  const sessionPath = await newSession(page);
  expectSecurityHeaders(await page.goto(sessionPath), '/p/<id>/s/<id>');
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');

  // A second tab of the same person sees the message arrive live (SSE under connect-src 'self').
  const other = await context.newPage();
  const otherProblems = await watchViolations(other);
  await other.goto(sessionPath);
  await expect(other.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await send(page, 'Under the **CSP**', 'Under the CSP');
  await expect(messageArticle(other, 'Under the CSP').locator('strong')).toHaveText('CSP');

  const missing = await page.goto(`/p/${crypto.randomUUID()}`);
  expect(missing?.status()).toBe(404);
  expectSecurityHeaders(missing, 'not-found project');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  const unknown = await page.goto('/no-such-page');
  expect(unknown?.status()).toBe(404);
  expectSecurityHeaders(unknown, 'not-found route');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  // The not-found page is live too: its link goes home client-side.
  await page.getByRole('link', { name: 'Back to your projects' }).click();
  await expect(page.getByRole('link', { name: 'CSP check' })).toBeVisible();

  expect(problems).toEqual([]);
  expect(otherProblems).toEqual([]);

  // The policy is really enforced, and the watcher really hears it: a request to another origin is
  // refused and reported. (Code run by page.evaluate is exempt from the eval rule, so eval is checked
  // by the header assertions above.)
  const sent = await page.evaluate(() =>
    fetch('https://evil.example/steal').then(
      () => 'sent',
      () => 'blocked',
    ),
  );
  expect(sent).toBe('blocked');
  await expect.poll(() => problems.some((p) => p.includes('connect-src'))).toBe(true);
});

test('a real cross-site form post (multipart, text/plain, urlencoded) runs nothing (issue 7 §3, issue 14 #9)', async ({ page, baseURL }) => {
  await signUp(page);
  const projectPath = await createProject(page, 'Not for evil');
  const api = `${baseURL}/api/trpc`;
  // evil.example is served by the test itself; the browser treats it as the other site it is.
  const forms: Record<string, string> = {
    signout: `<form method="post" action="${api}/auth.signOut" enctype="multipart/form-data"><input name="x" value="1"></form>`,
    plain: `<form method="post" action="${api}/project.create" enctype="text/plain"><input name='{"name":"evil","x":"' value='"}'></form>`,
    urlencoded: `<form method="post" action="${api}/project.create"><input name="name" value="evil"></form>`,
  };
  await page.route('http://evil.example/**', (route) => {
    const which = new URL(route.request().url()).pathname.slice(1);
    return route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><body>${forms[which] ?? ''}<script>document.forms[0].submit()</script></body>`,
    });
  });
  for (const which of Object.keys(forms)) {
    await page.goto(`http://evil.example/${which}`);
    await expect(page).toHaveURL(new RegExp(`^${api}/`));
    await expect(page.locator('body')).toContainText('Cross-site request refused');
  }
  // Still signed in, and no project was created.
  await page.goto('/');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Not for evil' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'evil', exact: true })).toHaveCount(0);
  expect(projectPath).toMatch(/^\/p\//);
});

test('a redirect after sign-in never leaves the site (issue 14 #4)', async ({ page, request }) => {
  const username = await signUp(page);
  // Signed in: the server redirects to `next` only when it is a path here.
  for (const next of ['/%09/evil.example/login', '/%0a/evil.example', '/%0d%0aSet-Cookie:x=1', '//evil.example', '/%5Cevil.example']) {
    const res = await page.request.get(`/?next=${next}`, { maxRedirects: 0 });
    expect(res.status(), next).toBe(200);
    expect(res.headers()['location'], next).toBeUndefined();
  }
  const good = await page.request.get(`/?next=${encodeURIComponent('/p/x')}`, { maxRedirects: 0 });
  expect(good.status()).toBe(307);
  expect(good.headers()['location']).toBe('/p/x');

  // Signing in: the form goes home instead of to evil.example.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.goto('/?next=/%09/evil.example/login');
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  expect(new URL(page.url()).hostname).toBe('localhost');

  // Signed out with a broken next: the sign-in page, not a 500.
  const anon = await request.get('/?next=/%0a/evil.example', { maxRedirects: 0 });
  expect(anon.status()).toBe(200);
});

test('a malformed session cookie is no cookie: pages and API answer, never 500 (issue 14 #3)', async ({ request }) => {
  const headers = { cookie: 'parley_session=%' };
  const home = await request.get('/', { headers, maxRedirects: 0 });
  expect(home.status()).toBe(200);
  expect(await home.text()).toContain('Create account');
  const me = await request.get('/api/trpc/auth.me', { headers });
  expect(me.status()).toBe(200);
  expect(await me.json()).toEqual({ result: { data: null } });
  const out = await request.post('/api/trpc/auth.signOut', { headers, data: {} });
  expect(out.status()).toBe(200);
  expect(out.headers()['set-cookie']).toMatch(/^parley_session=;.*Max-Age=0/);
  const signIn = await request.post('/api/trpc/auth.signIn', {
    headers,
    data: { username: uniqueUsername('nobody'), password: PASSWORD },
  });
  expect(signIn.status()).toBe(401);
});

test('the password rule is shown on the sign-up form, and an over-long password is refused before hashing', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('textbox', { name: 'Password' })).toHaveAccessibleDescription('8 to 256 characters.');
  await page.getByRole('textbox', { name: 'Username' }).fill(uniqueUsername());
  await page.getByRole('textbox', { name: 'Password' }).fill('x'.repeat(257));
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('Password must be at most 256 characters')).toBeVisible();
  // Straight to the API, too: BAD_REQUEST from zod, no argon2 on a megabyte.
  const res = await page.request.post('/api/trpc/auth.signUp', {
    data: { username: uniqueUsername(), password: 'x'.repeat(1_000_000) },
  });
  expect(res.status()).toBe(400);
  expect(JSON.stringify(await res.json())).toContain('Password must be at most 256 characters');
});

test('the e2e Redis control endpoint does not exist in the app', async ({ request }) => {
  const paths = [
    '/stop',
    '/start',
    '/api/stop',
    '/api/start',
    '/api/redis/stop',
    '/api/redis/start',
    '/api/e2e/redis/stop',
    '/api/test/redis/stop',
    '/api/control/stop',
    '/__e2e/redis/stop',
    '/redis/stop',
  ];
  for (const path of paths) {
    const post = await request.post(path, { maxRedirects: 0 });
    expect(post.status(), `POST ${path}`).toBe(404);
    const get = await request.get(path, { maxRedirects: 0 });
    expect(get.status(), `GET ${path}`).toBe(404);
  }
  // And nothing was stopped.
  const health = await request.get('/api/health');
  expect(health.status()).toBe(200);
});
