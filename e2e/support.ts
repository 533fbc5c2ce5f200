/**
 * Shared steps for the e2e specs. Everything is found the way a user finds it: by role and
 * accessible name (see ARCHITECTURE.md, section 7), with web-first assertions and no fixed sleeps.
 */
import { expect, type APIRequestContext, type Browser, type Locator, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery';

/** A username no other test (or earlier run against the same Redis) has taken. */
export function uniqueUsername(prefix = 'user'): string {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages' });
}

/** The message (article) in the log holding `text`. */
export function messageArticle(page: Page, text: string): Locator {
  return messageLog(page).getByRole('article').filter({ hasText: text });
}

export function connection(page: Page): Locator {
  return page.getByRole('status', { name: 'Connection' });
}

export async function signUp(page: Page, username = uniqueUsername()): Promise<string> {
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  return username;
}

export async function signIn(page: Page, username: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Creates a project from the home page; resolves with its URL (`/p/<id>`). */
export async function createProject(page: Page, name: string): Promise<string> {
  await page.getByRole('textbox', { name: 'Project name' }).fill(name);
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}$/);
  return new URL(page.url()).pathname;
}

/** Starts a session in the open project; resolves with its path (`/p/<id>/s/<id>`). */
export async function newSession(page: Page): Promise<string> {
  const before = page.url();
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(page).not.toHaveURL(before);
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/s\/[0-9a-f-]{36}$/);
  await expect(messageLog(page)).toBeVisible();
  return new URL(page.url()).pathname;
}

/** A signed-up user with a project and a session open, ready to chat. */
export async function startChat(page: Page, projectName = 'Launch plan') {
  const username = await signUp(page);
  const projectPath = await createProject(page, projectName);
  const sessionPath = await newSession(page);
  await expect(connection(page)).toHaveText('Live');
  const [, , projectId, , sessionId] = sessionPath.split('/');
  return { username, projectPath, sessionPath, projectId: projectId!, sessionId: sessionId! };
}

/**
 * Types a message and sends it with Enter, then waits until the server has stored it. `shown` is the
 * text as rendered, when markdown changes it.
 */
export async function send(page: Page, text: string, shown = text): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
  await expect(messageArticle(page, shown).getByText('Sent', { exact: true })).toBeVisible();
}

/** Opens `path` in `count` more pages of the page's browser context (tabs of one browser). */
export async function openTabs(page: Page, path: string, count: number): Promise<Page[]> {
  const tabs: Page[] = [];
  for (let i = 0; i < count; i++) {
    const tab = await page.context().newPage();
    await tab.goto(path);
    tabs.push(tab);
  }
  return tabs;
}

/** A second person: a separate browser context (own cookies, own tabs), signed up. */
export async function secondUser(browser: Browser, prefix = 'other') {
  const context = await browser.newContext();
  const page = await context.newPage();
  const username = await signUp(page, uniqueUsername(prefix));
  return { context, page, username };
}

/** Stores messages through the public tRPC API (what any HTTP client can do), batched. */
export async function seedMessages(
  request: APIRequestContext,
  ids: { projectId: string; sessionId: string },
  contents: string[],
): Promise<void> {
  // The server takes at most LIMITS.requestBatchMax (10) calls per batch.
  const BATCH = 10;
  for (let start = 0; start < contents.length; start += BATCH) {
    const chunk = contents.slice(start, start + BATCH);
    const body: Record<string, unknown> = {};
    chunk.forEach((content, i) => {
      body[i] = { ...ids, id: crypto.randomUUID(), content };
    });
    const path = chunk.map(() => 'message.send').join(',');
    const res = await request.post(`/api/trpc/${path}?batch=1`, { data: body });
    expect(res.ok(), await res.text()).toBe(true);
  }
}
