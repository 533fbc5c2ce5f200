import { expect, test } from '@playwright/test';
import { messageArticle, messageLog, startChat } from './support';

/**
 * Over the send limit the server answers TOO_MANY_REQUESTS with Retry-After (proved against the real
 * limiter in src/server/trpc/limits.integration.test.ts). The e2e suite runs with the generous default
 * limits, so here the network answers the FIRST send that way (the shape the server sends, as the
 * batch link receives it); every later request reaches the real server. What this proves is the
 * browser's side: it says "slow down", waits, and sends the SAME message id again - stored once.
 */
test('a send over the limit shows "slow down" and goes through by itself later, once', async ({ page }) => {
  await startChat(page);
  const sentIds: string[] = [];
  let refused = false;
  await page.route('**/api/trpc/message.send**', async (route) => {
    const body = route.request().postDataJSON() as Record<string, { id: string }>;
    sentIds.push(body['0']!.id);
    if (refused) return route.continue();
    refused = true;
    await route.fulfill({
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '2' },
      body: JSON.stringify([
        {
          error: {
            message: 'You are sending too fast; slow down',
            code: -32029,
            data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429, path: 'message.send', retryAfter: 2 },
          },
        },
      ]),
    });
  });

  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('Patience pays');
  await box.press('Enter');
  const article = messageArticle(page, 'Patience pays');
  await expect(article.getByRole('status')).toHaveText(/Slow down: sending again in 2 s/);
  await expect(article.getByText('Sent', { exact: true })).toBeVisible({ timeout: 15_000 });
  await expect(messageLog(page).getByRole('article')).toHaveCount(1);
  expect(sentIds).toHaveLength(2);
  expect(sentIds[1]).toBe(sentIds[0]);
  // Stored once: after a reload, from the server, still one message.
  await page.reload();
  await expect(messageLog(page).getByRole('article')).toHaveCount(1);
});
