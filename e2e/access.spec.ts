import { expect, test } from '@playwright/test';
import { messageArticle, secondUser, send, startChat } from './support';

test("a second user cannot open the first user's project until they accept an invitation, and loses it on leaving", async ({ page, browser }) => {
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

  // Adding sends an invitation: nothing changes until they accept it.
  await page.getByRole('textbox', { name: 'Invite by username' }).fill(other.username);
  await page.getByRole('button', { name: 'Add member' }).click();
  const members = page.getByRole('region', { name: 'Members' });
  await expect(members.getByText('Invitation sent')).toBeVisible();
  await expect(members.getByRole('listitem')).toHaveCount(1);

  await other.page.goto('/');
  const invitation = other.page.getByRole('region', { name: 'Invitations' }).getByRole('listitem').filter({ hasText: 'Private plans' });
  await invitation.getByRole('button', { name: 'Accept' }).click();
  await expect(other.page).toHaveURL(new RegExp(projectPath));
  // Once they accept, they are in, and the owner's member list shows them live.
  await expect(members).toContainText(other.username);

  await other.page.goto(sessionPath);
  await expect(messageArticle(other.page, 'Members only')).toBeVisible();
  await send(other.page, `Hi from ${other.username}`);
  await expect(messageArticle(page, `Hi from ${other.username}`)).toBeVisible();

  // Leaving: back home without the project, out of the owner's member list at once.
  await other.page.getByRole('button', { name: 'Leave project' }).click();
  await expect(other.page).toHaveURL(/\/$/);
  await expect(other.page.getByRole('link', { name: 'Private plans' })).toHaveCount(0);
  await expect(members).not.toContainText(other.username);
  await other.page.goto(sessionPath);
  await expect(other.page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await other.context.close();
});

test('an invitation can be declined, and an unknown name gets the same answer as a known one', async ({ page, browser }) => {
  await startChat(page, 'Not for everyone');
  const members = page.getByRole('region', { name: 'Members' });
  await page.getByRole('textbox', { name: 'Invite by username' }).fill('nobody_by_this_name');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(members.getByText('Invitation sent')).toBeVisible();

  const other = await secondUser(browser);
  await page.getByRole('textbox', { name: 'Invite by username' }).fill(other.username);
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(members.getByText('Invitation sent')).toBeVisible();

  await other.page.goto('/');
  const invitations = other.page.getByRole('region', { name: 'Invitations' });
  await invitations.getByRole('listitem').filter({ hasText: 'Not for everyone' }).getByRole('button', { name: 'Decline' }).click();
  await expect(invitations).toHaveCount(0);
  await other.page.reload();
  await expect(other.page.getByRole('region', { name: 'Invitations' })).toHaveCount(0);
  await expect(other.page.getByRole('link', { name: 'Not for everyone' })).toHaveCount(0);
  await other.context.close();
});
