import { expect, test } from '@playwright/test';
import { messageArticle, secondUser, send, startChat } from './support';

test("a second user cannot open the first user's project until added as a member", async ({ page, browser }) => {
  const { projectPath, sessionPath } = await startChat(page, 'Private plans');
  await send(page, 'Members only');

  const other = await secondUser(browser);
  await expect(other.page.getByRole('link', { name: 'Private plans' })).toHaveCount(0);
  for (const path of [projectPath, sessionPath]) {
    await other.page.goto(path);
    await expect(other.page.getByRole('heading', { name: 'Not found' })).toBeVisible();
    await expect(other.page.getByText('Members only')).toHaveCount(0);
  }
  // A project that does not exist looks exactly the same.
  await other.page.goto('/p/00000000-0000-4000-8000-000000000000');
  await expect(other.page.getByRole('heading', { name: 'Not found' })).toBeVisible();

  // Once added, they are in, and the owner's member list shows them live.
  await page.getByRole('textbox', { name: 'Invite by username' }).fill(other.username);
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('region', { name: 'Members' })).toContainText(other.username);

  await other.page.goto(sessionPath);
  await expect(messageArticle(other.page, 'Members only')).toBeVisible();
  await send(other.page, `Hi from ${other.username}`);
  await expect(messageArticle(page, `Hi from ${other.username}`)).toBeVisible();
  await other.context.close();
});
