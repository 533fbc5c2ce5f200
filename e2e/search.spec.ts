import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { messageArticle, messageLog, startChat } from './support';

/** Stores a message through the API with the page's own login (faster than typing 60 of them). */
async function sendViaApi(page: Page, projectId: string, sessionId: string, content: string) {
  const res = await page.request.post('/api/trpc/message.send', {
    data: { projectId, sessionId, id: randomUUID(), content },
  });
  expect(res.ok()).toBe(true);
}

test('search finds a message deep in a session and opens the session at it, highlighted', async ({ page }) => {
  const { projectId, sessionId } = await startChat(page, 'Search launch');
  await sendViaApi(page, projectId, sessionId, 'We decided the launch date is the third of March.');
  for (let i = 1; i <= 60; i++) await sendViaApi(page, projectId, sessionId, `Filler message number ${i}`);
  await expect(messageArticle(page, 'Filler message number 60')).toBeVisible();

  const box = page.getByRole('searchbox', { name: 'Search messages' });
  await box.fill('"launch date"');
  await box.press('Enter');
  const results = page.getByRole('list', { name: 'Search results' });
  await expect(results.getByRole('listitem')).toHaveCount(1);
  await expect(results.getByRole('listitem')).toContainText('We decided the launch date is the third of March.');
  await expect(results.locator('mark').first()).toHaveText(/launch/i);

  await results.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/p/${projectId}/s/${sessionId}\\?at=1$`));
  const found = page.getByRole('region', { name: 'Found message' });
  await expect(found).toContainText('We decided the launch date is the third of March.');
  await expect(found).toBeInViewport();
  // The page around it, not the newest page: message 60 is not loaded here.
  await expect(messageArticle(page, 'Filler message number 10')).toBeVisible();
  await expect(messageArticle(page, 'Filler message number 60')).toHaveCount(0);

  await page.getByRole('link', { name: 'Back to the latest messages' }).click();
  await expect(messageArticle(page, 'Filler message number 60')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Found message' })).toHaveCount(0);

  // Nothing found is said so; a query made only of exclusions is explained, not a crash.
  await box.fill('xylophone');
  await box.press('Enter');
  await expect(page.getByText('No messages found.')).toBeVisible();
  await box.fill('-launch');
  await box.press('Enter');
  await expect(page.getByRole('alert').filter({ hasText: 'at least one word' })).toBeVisible();
  await expect(messageLog(page)).toBeVisible();
});
