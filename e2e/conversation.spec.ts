import { expect, test, type Browser, type Page } from '@playwright/test';
import { messageArticle, secondUser, send, startChat } from './support';

/** A (the owner, `page`) and B (a member in their own browser context), both on one session. */
async function twoPeople(page: Page, browser: Browser, projectName: string) {
  const chat = await startChat(page, projectName);
  const b = await secondUser(browser, 'bea');
  await page.getByRole('textbox', { name: 'Invite by username' }).fill(b.username);
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('region', { name: 'Members' }).getByText('Invitation sent')).toBeVisible();
  await b.page.goto('/');
  await b.page
    .getByRole('region', { name: 'Invitations' })
    .getByRole('listitem')
    .filter({ hasText: projectName })
    .getByRole('button', { name: 'Accept' })
    .click();
  await expect(b.page).toHaveURL(new RegExp(chat.projectPath));
  return { ...chat, b };
}

test('A reacts, edits and deletes; B sees each change live, and B can react back', async ({ page, browser }) => {
  const { sessionPath, b } = await twoPeople(page, browser, 'Actions');
  await send(page, 'First draft of the plan');
  await b.page.goto(sessionPath);
  const bMessage = messageArticle(b.page, 'First draft of the plan');
  await expect(bMessage).toBeVisible();

  // A reacts from the keyboard-reachable toolbar.
  const aMessage = messageArticle(page, 'First draft of the plan');
  await aMessage.hover();
  await aMessage.getByRole('button', { name: 'React', exact: true }).click();
  await aMessage.getByRole('button', { name: 'React with party' }).click();
  await expect(aMessage.getByRole('button', { name: /^🎉 1: you$/ })).toHaveAttribute('aria-pressed', 'true');
  const bChip = bMessage.getByRole('button', { name: /^🎉 1:/ });
  await expect(bChip).toBeVisible();
  await expect(bChip).toHaveAttribute('aria-pressed', 'false');

  // B toggles the same reaction on: A sees the count and who.
  await bChip.click();
  await expect(aMessage.getByRole('button', { name: /^🎉 2: / })).toBeVisible();
  await expect(aMessage.getByRole('button', { name: /^🎉 2: / })).toHaveAccessibleName(new RegExp(b.username));

  // A edits in place: Esc cancels, Enter saves, both see "edited".
  await aMessage.hover();
  await aMessage.getByRole('button', { name: 'Edit' }).click();
  const editor = page.getByRole('textbox', { name: 'Edit message' });
  await editor.fill('Throwaway');
  await editor.press('Escape');
  await expect(editor).toHaveCount(0);
  await expect(aMessage).toContainText('First draft of the plan');
  await aMessage.hover();
  await aMessage.getByRole('button', { name: 'Edit' }).click();
  await editor.fill('Final plan');
  await editor.press('Enter');
  const aEdited = messageArticle(page, 'Final plan');
  await expect(aEdited.getByText('edited', { exact: true })).toBeVisible();
  const bEdited = messageArticle(b.page, 'Final plan');
  await expect(bEdited.getByText('edited', { exact: true })).toBeVisible();
  await expect(b.page.getByText('First draft of the plan')).toHaveCount(0);

  // B may not edit or delete A's message; the toolbar does not offer it.
  await bEdited.hover();
  await expect(bEdited.getByRole('button', { name: 'React', exact: true })).toBeVisible();
  await expect(bEdited.getByRole('button', { name: 'Edit' })).toHaveCount(0);
  await expect(bEdited.getByRole('button', { name: 'Delete' })).toHaveCount(0);

  // A deletes, after confirming; B sees the tombstone live. A reload shows the same.
  await aEdited.hover();
  await aEdited.getByRole('button', { name: 'Delete' }).click();
  await aEdited.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(page.getByText('This message was deleted.')).toBeVisible();
  await expect(b.page.getByText('This message was deleted.')).toBeVisible();
  await expect(b.page.getByText('Final plan')).toHaveCount(0);
  await b.page.reload();
  await expect(b.page.getByText('This message was deleted.')).toBeVisible();
  await b.context.close();
});

test('the project owner may delete a member’s message', async ({ page, browser }) => {
  const { sessionPath, b } = await twoPeople(page, browser, 'Moderation');
  await b.page.goto(sessionPath);
  await send(b.page, 'Off-topic rant');
  const onA = messageArticle(page, 'Off-topic rant');
  await expect(onA).toBeVisible();
  await onA.hover();
  await expect(onA.getByRole('button', { name: 'Edit' })).toHaveCount(0);
  await onA.getByRole('button', { name: 'Delete' }).click();
  await onA.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(b.page.getByText('This message was deleted.')).toBeVisible();
  await b.context.close();
});

test('B’s unread badges count A’s messages, and clear when B opens the session', async ({ page, browser }) => {
  const { sessionPath, b } = await twoPeople(page, browser, 'Unread');
  // B looks at the project but not at the session A writes in.
  const other = page.getByRole('button', { name: 'New session' });
  await other.click();
  await expect(page).not.toHaveURL(sessionPath);
  const bNav = b.page.getByRole('navigation', { name: 'Sessions' });
  const bOtherLink = bNav.getByRole('link').first();
  await bOtherLink.click();
  await expect(b.page).not.toHaveURL(sessionPath);
  await expect(bNav.getByRole('link')).toHaveCount(2);

  await page.goto(sessionPath);
  await send(page, 'Unread one');
  await send(page, 'Unread two');
  // A's own messages are never unread for A.
  await expect(page.getByRole('navigation', { name: 'Sessions' }).getByLabel(/unread$/)).toHaveCount(0);

  const row = bNav.getByRole('listitem').filter({ has: b.page.locator(`a[href="${sessionPath}"]`) });
  await expect(row.getByLabel('2 unread')).toBeVisible();
  // The home page totals the project.
  const home = await b.context.newPage();
  await home.goto('/');
  await expect(home.getByRole('listitem').filter({ hasText: 'Unread' }).getByLabel('2 unread')).toBeVisible();

  // Opening the session shows the divider at the first unread message and clears the badge.
  await row.getByRole('link').click();
  await expect(b.page).toHaveURL(new RegExp(sessionPath));
  await expect(b.page.getByRole('separator', { name: 'New messages' })).toBeVisible();
  await expect(messageArticle(b.page, 'Unread one')).toBeVisible();
  await expect(row.getByLabel(/unread$/)).toHaveCount(0);
  // ... in B's other tabs too (the home page asks again when it is looked at).
  await home.reload();
  await expect(home.getByRole('listitem').filter({ hasText: 'Unread' })).toBeVisible();
  await expect(home.getByRole('listitem').filter({ hasText: 'Unread' }).getByLabel(/unread$/)).toHaveCount(0);
  await b.context.close();
});

test('B sees A’s @mention highlighted and a mention badge that clears when B opens the session; B’s home total is live', async ({
  page,
  browser,
}) => {
  const { sessionPath, b } = await twoPeople(page, browser, 'Mentions');
  // B is elsewhere in the project, and has the home page open in another tab.
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(page).not.toHaveURL(sessionPath);
  const bNav = b.page.getByRole('navigation', { name: 'Sessions' });
  await bNav.getByRole('link').first().click();
  await expect(b.page).not.toHaveURL(sessionPath);
  await expect(bNav.getByRole('link')).toHaveCount(2);
  const home = await b.context.newPage();
  await home.goto('/');
  const homeRow = home.getByRole('listitem').filter({ hasText: 'Mentions' });
  await expect(homeRow).toBeVisible();
  await expect(homeRow.getByLabel(/unread/)).toHaveCount(0);

  await page.goto(sessionPath);
  await send(page, `Hey @${b.username}, can you review?`);
  await send(page, 'No mention here');
  // A's own mention of B is highlighted for A too, but not as "you".
  const onA = messageArticle(page, 'can you review?').locator('.mention');
  await expect(onA).toHaveText(`@${b.username}`);
  await expect(onA).not.toHaveClass(/mention-me/);

  // B's sessions nav: 2 unread, 1 of them mentions B (a separate badge).
  const row = bNav.getByRole('listitem').filter({ has: b.page.locator(`a[href="${sessionPath}"]`) });
  await expect(row.getByLabel('2 unread', { exact: true })).toBeVisible();
  await expect(row.getByLabel('1 unread mention')).toHaveText('@1');
  // The home page follows live (no reload): the project's total and its mentions.
  await expect(homeRow.getByLabel('2 unread', { exact: true })).toBeVisible();
  await expect(homeRow.getByLabel('1 unread mention')).toBeVisible();

  // B opens the session: the mention of B stands out, and the badges clear, on the home page too.
  await row.getByRole('link').click();
  await expect(b.page).toHaveURL(new RegExp(sessionPath));
  const mine = messageArticle(b.page, 'can you review?').locator('.mention');
  await expect(mine).toHaveText(`@${b.username}`);
  await expect(mine).toHaveClass(/mention-me/);
  await expect(mine).toHaveAttribute('title', 'Mentions you');
  await expect(row.getByLabel(/unread/)).toHaveCount(0);
  await expect(homeRow.getByLabel(/unread/)).toHaveCount(0);

  await b.context.close();
});

test('B sees A typing, and it stops when A sends', async ({ page, browser }) => {
  const { sessionPath, username, b } = await twoPeople(page, browser, 'Typing');
  await b.page.goto(sessionPath);
  const typing = b.page.getByRole('status', { name: 'Typing' });
  await expect(typing).toHaveText('');
  // Presence: both browsers have the project open, so each sees the other online.
  const members = b.page.getByRole('region', { name: 'Members' });
  await expect(members.getByRole('listitem').filter({ hasText: username })).toContainText('online');
  await page.getByRole('textbox', { name: 'Message' }).pressSequentially('Hello B');
  await expect(typing).toHaveText(`${username} is typing…`);
  // A does not see themself typing.
  await expect(page.getByRole('status', { name: 'Typing' })).toHaveText('');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(messageArticle(b.page, 'Hello B')).toBeVisible();
  await expect(typing).toHaveText('');
  await b.context.close();
});

test('a session gets a description and is archived into a collapsed group, live for B', async ({ page, browser }) => {
  const { sessionPath, b } = await twoPeople(page, browser, 'Archive');
  await b.page.goto(sessionPath);
  await page.getByRole('button', { name: 'Add description' }).click();
  await page.getByRole('textbox', { name: 'Session description' }).fill('Where we plan the launch');
  await page.getByRole('textbox', { name: 'Session description' }).press('Enter');
  await expect(b.page.getByText('Where we plan the launch')).toBeVisible();

  await page.getByRole('button', { name: 'Archive', exact: true }).click();
  const bNav = b.page.getByRole('navigation', { name: 'Sessions' });
  const group = bNav.locator('details').filter({ hasText: 'Archived (1)' });
  await expect(group).toBeVisible();
  await expect(group.getByRole('link')).toHaveCount(1);
  await page.getByRole('button', { name: 'Unarchive' }).click();
  await expect(bNav.getByText(/^Archived/)).toHaveCount(0);
  await b.context.close();
});
