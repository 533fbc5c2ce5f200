import { expect, test, type Page, type Request } from '@playwright/test';
import { connection, messageArticle, messageLog, openTabs, send, startChat } from './support';

test('two tabs of one browser see each other’s messages live', async ({ page }) => {
  const { sessionPath } = await startChat(page);
  const [second] = await openTabs(page, sessionPath, 1);
  const tab = second!;
  await expect(connection(tab)).toHaveText('Live');

  await send(page, 'From the first tab');
  await expect(messageArticle(tab, 'From the first tab')).toBeVisible();
  await send(tab, 'From the second tab');
  await expect(messageArticle(page, 'From the second tab')).toBeVisible();

  // Each message once, in the same order, in both tabs.
  for (const p of [page, tab]) {
    await expect(messageLog(p).getByRole('article')).toHaveText([/From the first tab/, /From the second tab/]);
  }
  // A new session shows up in the other tab's sidebar too.
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(tab.getByRole('navigation', { name: 'Sessions' }).getByRole('link')).toHaveCount(2);
});

/**
 * Twelve tabs on one session: with one SSE stream per tab, HTTP/1.1's six connections per host would
 * freeze the later tabs. One tab leads and relays, so every tab stays live - and when the leader
 * closes, another takes over from the last event it saw.
 */
test('twelve tabs stay in sync, and keep syncing after the leading tab closes', async ({ page }) => {
  test.setTimeout(120_000);
  // Count the event streams this browser has open, across all its tabs.
  const openStreams = new Set<Request>();
  const context = page.context();
  context.on('request', (r) => {
    if (r.url().includes('/api/trpc/events.subscribe')) openStreams.add(r);
  });
  context.on('requestfinished', (r) => openStreams.delete(r));
  context.on('requestfailed', (r) => openStreams.delete(r));
  const streamsOpen = () => [...openStreams].filter((r) => !r.frame().page().isClosed()).length;

  const { sessionPath } = await startChat(page);
  // `page` took the lock first, so it leads; the others follow.
  const followers = await openTabs(page, sessionPath, 11);
  const everyone: Page[] = [page, ...followers];
  for (const tab of everyone) await expect(connection(tab)).toHaveText('Live');
  await expect.poll(streamsOpen).toBe(1);

  await send(followers[10]!, 'Sent from the last tab');
  await send(page, 'Sent from the leader');
  for (const tab of everyone) {
    await expect(messageArticle(tab, 'Sent from the last tab')).toBeVisible();
    await expect(messageArticle(tab, 'Sent from the leader')).toBeVisible();
  }

  await page.close();
  const rest = followers;
  // Sent right away, while leadership moves: the new leader catches up from its last event id.
  await send(rest[3]!, 'Sent during the handover');
  for (const tab of rest) await expect(messageArticle(tab, 'Sent during the handover')).toBeVisible();
  for (const tab of rest) await expect(connection(tab)).toHaveText('Live');

  await expect.poll(streamsOpen).toBe(1);

  await rest[0]!.close();
  await send(rest[7]!, 'Sent after two leaders left');
  const remaining = rest.slice(1);
  for (const tab of remaining) {
    await expect(messageArticle(tab, 'Sent after two leaders left')).toBeVisible();
    await expect(messageLog(tab).getByRole('article')).toHaveCount(4);
  }
});
