import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { createProject, messageArticle, messageLog, signUp } from './support';

/** What the old app's appContext left in a browser: the current session and its messages. */
async function plantOldHistory(page: Page, ids: { first: string; second: string }) {
  await page.evaluate((ids) => {
    localStorage.setItem('theme', 'dark');
    localStorage.setItem('currentChatSession', JSON.stringify({ id: 'old-session-1', title: 'Old planning', projectId: 'acme' }));
    localStorage.setItem(
      'chat_messages_old-session-1',
      JSON.stringify([
        { id: ids.first, sessionId: 'old-session-1', content: 'Old hello from the browser', type: 'user', createdAt: '2024-04-01T09:00:00.000Z', updatedAt: '2024-04-01T09:00:00.000Z', isEdited: false, reactions: [] },
        { id: ids.second, sessionId: 'old-session-1', content: 'Old answer from the AI PM', type: 'ai', createdAt: '2024-04-01T09:00:05.000Z', updatedAt: '2024-04-01T09:00:05.000Z', isEdited: false, reactions: [] },
      ]),
    );
  }, ids);
}

const storedKeys = (page: Page) => page.evaluate(() => Object.keys(localStorage).sort());

test('a browser with the old app\'s history imports it once, then forgets only the old keys', async ({ page }) => {
  await signUp(page);
  const projectPath = await createProject(page, 'Imported history');
  const ids = { first: randomUUID(), second: `ai-${randomUUID().slice(0, 8)}` };
  await plantOldHistory(page, ids);
  await page.reload();

  const offer = page.getByRole('region', { name: 'Import from this browser' });
  await offer.getByRole('button', { name: 'Import 2 messages from this browser' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/s\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('status', { name: 'Import' })).toHaveText('Imported 2 messages from this browser.');
  await expect(messageArticle(page, 'Old hello from the browser')).toBeVisible();
  await expect(messageArticle(page, 'Old answer from the AI PM')).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Sessions' }).getByRole('link', { name: 'Imported: Old planning' })).toBeVisible();
  // Only the old chat keys are gone; anything else in the browser's storage is not Parley's to touch.
  expect(await storedKeys(page)).toEqual(['theme']);

  // Next visit: nothing left to offer.
  await page.goto(projectPath);
  await expect(page.getByRole('link', { name: 'Imported: Old planning' })).toBeVisible();
  await expect(page.getByRole('button', { name: /from this browser/ })).toHaveCount(0);

  // Another browser with the same old data (here: the keys planted again) imports nothing twice.
  await plantOldHistory(page, ids);
  await page.reload();
  await page.getByRole('button', { name: 'Import 2 messages from this browser' }).click();
  await expect(page.getByRole('status', { name: 'Import' })).toHaveText(
    'Imported 0 messages from this browser (2 were already in Parley).',
  );
  await expect(messageLog(page).getByRole('article')).toHaveCount(2);
  expect(await storedKeys(page)).toEqual(['theme']);
});
