/**
 * The AI PM in Chromium, against the app process that has it on (E2E_AI_APP_PORT) and a scripted
 * OpenAI-compatible server this spec runs (E2E_FAKE_AI_PORT). `npm run test:e2e` sets both.
 */
import { expect, test, type Page } from '@playwright/test';
import { startFakeOpenAI, type FakeOpenAI } from '../src/server/testing/fake-openai';
import { messageArticle, messageLog, openTabs, send, startChat } from './support';

const AI_APP_PORT = process.env.E2E_AI_APP_PORT;
const FAKE_AI_PORT = process.env.E2E_FAKE_AI_PORT;

let ai: FakeOpenAI;

test.describe('with the AI PM on', () => {
  test.skip(!AI_APP_PORT || !FAKE_AI_PORT, 'run with npm run test:e2e (it starts the AI PM app)');
  test.use({ baseURL: `http://localhost:${AI_APP_PORT}` });

  test.beforeAll(async () => {
    ai = await startFakeOpenAI({ port: Number(FAKE_AI_PORT) });
  });
  test.afterAll(async () => {
    await ai.close();
  });
  test.afterEach(() => ai.release());

  const answer = (page: Page) => messageLog(page).getByRole('article').filter({ hasText: 'AI PM' });

  test('two tabs watch one answer stream; a tab reloaded mid-stream ends identical', async ({ page }) => {
    ai.enqueue({
      tokens: ['Friday works ', 'if we freeze scope ', 'today.\n\n', '## Technical instruction\n', 'Branch on Wednesday.\n\n', 'Confidence: 0.82'],
      holdAfter: 2,
    });
    const { sessionPath } = await startChat(page);
    const [tab] = await openTabs(page, sessionPath, 1);
    const other = tab!;
    await send(page, 'Can we launch on Friday?');

    for (const p of [page, other]) {
      await expect(answer(p)).toContainText('Friday works if we freeze scope');
      await expect(answer(p).getByText('Writing…')).toBeVisible();
      await expect(answer(p).getByRole('button', { name: 'Stop' })).toBeVisible();
    }
    await other.reload();
    await expect(answer(other)).toContainText('Friday works if we freeze scope');
    await expect(answer(other).getByText('Writing…')).toBeVisible();

    ai.release();
    for (const p of [page, other]) {
      await expect(answer(p).getByText('Writing…')).toHaveCount(0);
      await expect(answer(p)).toContainText('Branch on Wednesday.');
      await expect(answer(p).getByText('82% confidence')).toBeVisible();
      await expect(answer(p).getByRole('button', { name: 'Mark verified' })).toBeVisible();
      await expect(answer(p)).not.toContainText('Confidence: 0.82');
    }
    expect(await answer(other).innerText()).toBe(await answer(page).innerText());
    await expect(messageLog(page).getByRole('article')).toHaveCount(2);

    // Verifying shows in the other tab.
    await answer(page).getByRole('button', { name: 'Mark verified' }).click();
    await expect(answer(other).getByText(/^Verified by /)).toBeVisible();
  });

  test('Stop keeps the partial answer; a failed answer is retried in place', async ({ page }) => {
    ai.enqueue({ tokens: ['First step, ', 'second step, ', 'third step.'], holdAfter: 1 });
    await startChat(page);
    await send(page, 'Plan the week');
    await expect(answer(page)).toContainText('First step,');
    await answer(page).getByRole('button', { name: 'Stop' }).click();
    await expect(answer(page).getByText('Stopped')).toBeVisible();
    await expect(answer(page).getByText('Writing…')).toHaveCount(0);
    await expect(answer(page)).toContainText('First step,');
    await expect(answer(page)).not.toContainText('second step');

    ai.enqueue({ status: 429 }, { tokens: ['Recovered answer.\n\nConfidence: 0.5'] });
    await send(page, 'And next week?');
    const second = answer(page).nth(1);
    await expect(second.getByText('Failed')).toBeVisible();
    await expect(second).toContainText('busy (429');
    await second.getByRole('button', { name: 'Retry' }).click();
    await expect(second).toContainText('Recovered answer.');
    await expect(second.getByText('Needs verification')).toBeVisible();
    await expect(messageLog(page).getByRole('article')).toHaveCount(4);
  });

  test('in "mention" mode only messages that mention @pm get an answer', async ({ page }) => {
    await startChat(page);
    const mode = page.getByRole('combobox', { name: 'AI PM participation' });
    await expect(mode).toHaveValue('always');
    await mode.selectOption('mention');
    await expect(mode).toHaveValue('mention');
    await page.reload();
    await expect(page.getByRole('combobox', { name: 'AI PM participation' })).toHaveValue('mention');

    await send(page, 'Just between us');
    await send(page, 'Hey @pm, what is next?');
    await expect(answer(page).getByText('82% confidence')).toBeVisible();
    // The first message was stored (and would have been queued) before the second: one answer only.
    await expect(messageLog(page).getByRole('article')).toHaveCount(3);
    await expect(messageLog(page).getByRole('article').nth(2)).toContainText('AI PM');
  });
});

test('with the AI PM off, the session header says so and the chat works', async ({ page }) => {
  await startChat(page);
  await expect(page.getByRole('note')).toContainText('The AI PM is off');
  await expect(page.getByRole('note')).toContainText('AI_BASE_URL');
  await send(page, 'Just us humans');
  await expect(messageArticle(page, 'Just us humans')).toBeVisible();
  const health = (await (await page.request.get('/api/health')).json()) as { ai: string };
  expect(health.ai).toBe('off');
});
