import { expect, test } from '@playwright/test';
import { connection, messageArticle, messageLog, send, signIn, startChat, uniqueUsername, signUp } from './support';

test('sign up, create a project and a session, send, reload and see the history', async ({ page }) => {
  const { username } = await startChat(page, 'Website relaunch');
  await expect(page.getByRole('link', { name: 'Website relaunch' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Sessions' }).getByRole('link')).toHaveCount(1);

  await send(page, 'Hello team');
  // Shift+Enter adds a line; Enter sends.
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('First line');
  await box.press('Shift+Enter');
  await box.pressSequentially('second line');
  await expect(box).toHaveValue('First line\nsecond line');
  await box.press('Enter');
  await expect(messageArticle(page, 'second line')).toBeVisible();
  await expect(messageArticle(page, 'Hello team')).toContainText(username);

  await page.reload();
  const articles = messageLog(page).getByRole('article');
  await expect(articles).toHaveCount(2);
  await expect(articles.nth(0)).toContainText('Hello team');
  await expect(articles.nth(1)).toContainText('First line');
  await expect(articles.nth(1)).toContainText('second line');
  await expect(connection(page)).toHaveText('Live');
  await expect(page.getByRole('navigation', { name: 'Sessions' })).toContainText('2 messages');
});

test('the project page opens the most recent session, and a session can be renamed', async ({ page }) => {
  const { projectPath, sessionPath } = await startChat(page);
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByRole('textbox', { name: 'Session title' }).fill('Kickoff notes');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Kickoff notes');
  const sessions = page.getByRole('navigation', { name: 'Sessions' });
  await expect(sessions.getByRole('link', { name: 'Kickoff notes' })).toBeVisible();

  await page.goto(projectPath);
  await expect(page).toHaveURL(sessionPath);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Kickoff notes');

  // Back on the home page the project is listed as a link.
  await page.getByRole('link', { name: 'All projects' }).click();
  await expect(page.getByRole('link', { name: 'Launch plan' })).toBeVisible();
});

test('markdown renders, raw HTML and script show as text and never run', async ({ page }) => {
  await startChat(page);
  const attacks = ['<script>window.__pwned = 1</script>', '<img src=x onerror="window.__pwned = 2">'];
  for (const text of attacks) await send(page, text);
  await send(page, 'Plan: **ship it** and `npm test`', 'Plan: ship it and npm test');

  await page.reload();
  for (const text of attacks) await expect(messageArticle(page, text)).toBeVisible();
  await expect(messageArticle(page, 'Plan:').locator('strong')).toHaveText('ship it');
  await expect(messageArticle(page, 'Plan:').locator('code')).toHaveText('npm test');
  await expect(messageLog(page).locator('script, img')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('a signed-out visitor signs in and comes back to where they were going', async ({ page, browser }) => {
  const { username, sessionPath } = await startChat(page);
  await send(page, 'Still here after signing in');

  const context = await browser.newContext();
  const visitor = await context.newPage();
  await visitor.goto(sessionPath);
  await expect(visitor).toHaveURL(`/?next=${encodeURIComponent(sessionPath)}`);
  await signIn(visitor, username);
  await expect(visitor).toHaveURL(sessionPath);
  await expect(messageArticle(visitor, 'Still here after signing in')).toBeVisible();
  await context.close();
});

test('a wrong password is refused with a message', async ({ page }) => {
  const username = await signUp(page, uniqueUsername('pw'));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Next's route announcer is a role=alert region too (empty), so name the alert by what it says.
  await expect(page.getByRole('alert').filter({ hasText: 'Wrong username or password' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
});
