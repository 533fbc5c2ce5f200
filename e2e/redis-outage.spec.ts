import { expect, test } from '@playwright/test';
import { takeRedisAway, type RedisOutage } from './redis-control';
import { connection, messageArticle, messageLog, openTabs, send, startChat } from './support';

let outage: RedisOutage | null = null;

test.afterEach(async () => {
  // Never leave the shared Redis away for the specs that follow, whatever happened above.
  await outage?.restore();
  outage = null;
});

test('a send while Redis is away shows Failed; Retry after it returns stores exactly one copy', async ({
  page,
  request,
}, testInfo) => {
  test.setTimeout(90_000);
  const { sessionPath } = await startChat(page);
  const [other] = await openTabs(page, sessionPath, 1);
  await send(page, 'Before the outage');
  await expect(messageArticle(other!, 'Before the outage')).toBeVisible();

  outage = await takeRedisAway();
  testInfo.annotations.push({ type: 'redis', description: outage.mode });

  const text = `Sent into the outage ${Date.now()}`;
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  const pending = messageArticle(page, text);
  // Shown at once, then marked as failed with a way to try again.
  await expect(pending).toBeVisible();
  await expect(pending.getByText('Failed', { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(pending.getByRole('button', { name: 'Retry' })).toBeVisible();

  await outage.restore();
  outage = null;
  // The app reaches Redis again before we retry.
  await expect.poll(async () => (await request.get('/api/health')).status(), { timeout: 30_000 }).toBe(200);

  await pending.getByRole('button', { name: 'Retry' }).click();
  await expect(pending.getByText('Sent', { exact: true })).toBeVisible({ timeout: 15_000 });
  await expect(messageArticle(page, text)).toHaveCount(1);

  // The other tab gets it live (its stream caught up after the outage) - once.
  await expect(connection(other!)).toHaveText('Live', { timeout: 30_000 });
  await expect(messageArticle(other!, text)).toHaveCount(1, { timeout: 15_000 });

  // And the store holds exactly one copy.
  await page.reload();
  await expect(messageLog(page).getByRole('article')).toHaveCount(2);
  await expect(messageArticle(page, text)).toHaveCount(1);
  await expect(page.getByRole('navigation', { name: 'Sessions' })).toContainText('2 messages');
});
