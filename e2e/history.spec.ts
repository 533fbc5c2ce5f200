import { expect, test } from '@playwright/test';
import { messageArticle, messageLog, openTabs, seedMessages, startChat } from './support';

/**
 * Correctness under load, with the timings recorded as annotations (and printed) for the README -
 * never asserted: speed is proven by `npm run bench`, not by thresholds that flake.
 */

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

test('60 messages sent in one tab each arrive once, in order, in another tab', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const { sessionPath } = await startChat(page);
  const [other] = await openTabs(page, sessionPath, 1);
  const receiver = other!;

  // Record when each message is typed (Enter) in the sender and when it appears in the receiver.
  await page.evaluate(() => {
    const w = window as unknown as { __sentAt: Record<string, number> };
    w.__sentAt = {};
    document.addEventListener(
      'keydown',
      (e) => {
        const t = e.target;
        if (e.key === 'Enter' && !e.shiftKey && t instanceof HTMLTextAreaElement) w.__sentAt[t.value.trim()] = Date.now();
      },
      true,
    );
  });
  await receiver.evaluate(() => {
    const w = window as unknown as { __seenAt: Record<string, number> };
    w.__seenAt = {};
    const log = document.querySelector('[role="log"]')!;
    new MutationObserver(() => {
      for (const a of log.querySelectorAll('article')) {
        const text = a.querySelector('.msg-body')?.textContent?.trim();
        if (text && !(text in w.__seenAt)) w.__seenAt[text] = Date.now();
      }
    }).observe(log, { childList: true, subtree: true });
  });

  const N = 60;
  const box = page.getByRole('textbox', { name: 'Message' });
  const texts: string[] = [];
  for (let i = 1; i <= N; i++) {
    const text = `Latency probe ${i}`;
    texts.push(text);
    await box.fill(text);
    await box.press('Enter');
    await expect(messageArticle(receiver, text)).toBeVisible();
  }
  await expect(messageLog(receiver).getByRole('article')).toHaveText(texts.map((t) => new RegExp(`${t}$`)));

  const sentAt = await page.evaluate(() => (window as unknown as { __sentAt: Record<string, number> }).__sentAt);
  const seenAt = await receiver.evaluate(() => (window as unknown as { __seenAt: Record<string, number> }).__seenAt);
  const latencies = texts.map((t) => seenAt[t]! - sentAt[t]!).sort((a, b) => a - b);
  const summary = `n=${N} median=${percentile(latencies, 50)}ms p95=${percentile(latencies, 95)}ms max=${latencies.at(-1)}ms`;
  testInfo.annotations.push({ type: 'send-to-other-tab latency', description: summary });
  console.log(`[measure] send in one tab -> shown in another: ${summary}`);
});

test('a 1,000-message session opens at its newest messages and loads older ones on scroll-up without jumping', async ({
  page,
}, testInfo) => {
  test.setTimeout(180_000);
  const { projectId, sessionId } = await startChat(page);
  const contents = Array.from({ length: 1000 }, (_, i) => `History message ${i + 1}`);
  await seedMessages(page.request, { projectId, sessionId }, contents);

  const started = Date.now();
  await page.reload();
  const articles = messageLog(page).getByRole('article');
  await expect(articles).toHaveCount(50);
  await expect(articles.last()).toBeInViewport();
  const shownAfter = Date.now() - started;
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { ttfb: Math.round(nav.responseStart), fcp: Math.round(fcp?.startTime ?? -1), dcl: Math.round(nav.domContentLoadedEventEnd) };
  });
  const summary = `first contentful paint ${timing.fcp}ms (TTFB ${timing.ttfb}ms, DOMContentLoaded ${timing.dcl}ms); newest message visible ${shownAfter}ms after reload()`;
  testInfo.annotations.push({ type: '1000-message reload', description: summary });
  console.log(`[measure] 1,000-message session after reload: ${summary}`);

  // Seqs ascend down the log, the newest is last.
  const seqs = async () => (await articles.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq')))));
  const first = await seqs();
  expect(first.at(-1)).toBe(1000);
  expect(first).toEqual([...first].sort((a, b) => a - b));

  // Scroll to the top: an older page loads above, and the message that was on screen stays put.
  // The older page's request (a message.list with a cursor) is held until the position has been
  // measured. Only that one: the refetch of the newest page that a fresh live connection makes must
  // go through, and the scroll waits for the page to be live (hydrated and subscribed) - a scroll
  // into the server-rendered HTML before that would be handled by nobody yet.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  await page.route(
    (url) => url.pathname.includes('message.list') && decodeURIComponent(url.search).includes('"cursor":'),
    async (route) => {
      await gate;
      await route.continue();
    },
  );
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const log = messageLog(page);
  const anchorEl = log.locator(`article[data-seq="${first[0]}"]`);
  await log.evaluate((el) => el.scrollBy(0, -el.scrollHeight));
  await expect(page.getByRole('button', { name: 'Loading older messages…' })).toBeVisible();
  await expect(anchorEl).toBeInViewport();
  const before = (await anchorEl.boundingBox())!.y;
  release();
  await expect(articles).toHaveCount(100);
  expect(Math.abs((await anchorEl.boundingBox())!.y - before)).toBeLessThan(2);
  const after = await seqs();
  expect(after).toEqual([...after].sort((a, b) => a - b));
  expect(new Set(after).size).toBe(after.length);
});

test('new messages keep a reader at the bottom pinned, and a reader who scrolled up in place with a marker', async ({
  page,
}) => {
  test.setTimeout(90_000);
  const { sessionPath, projectId, sessionId } = await startChat(page);
  await seedMessages(page.request, { projectId, sessionId }, Array.from({ length: 40 }, (_, i) => `Earlier ${i + 1}`));
  const [reader] = await openTabs(page, sessionPath, 1);
  const tab = reader!;
  const articles = messageLog(tab).getByRole('article');
  await expect(articles).toHaveCount(40);

  // At the bottom: a new message from elsewhere scrolls into view by itself.
  await page.getByRole('textbox', { name: 'Message' }).fill('Pinned reader sees this');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(messageArticle(tab, 'Pinned reader sees this')).toBeInViewport();
  await expect(tab.getByRole('button', { name: /New messages/ })).toHaveCount(0);

  // Scrolled up: the view holds still and a marker offers the way down.
  const topSeq = await messageLog(tab).evaluate((el) => {
    el.scrollBy(0, -600);
    const top = el.getBoundingClientRect().top;
    const first = [...el.querySelectorAll('article')].find((a) => a.getBoundingClientRect().top >= top);
    return first?.getAttribute('data-seq');
  });
  const anchor = messageLog(tab).locator(`article[data-seq="${topSeq}"]`);
  await expect(anchor).toBeInViewport();
  const before = (await anchor.boundingBox())!.y;
  await page.getByRole('textbox', { name: 'Message' }).fill('Arrives while scrolled up');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  const marker = tab.getByRole('button', { name: /New messages/ });
  await expect(marker).toBeVisible();
  expect(Math.abs((await anchor.boundingBox())!.y - before)).toBeLessThan(2);
  await expect(messageArticle(tab, 'Arrives while scrolled up')).not.toBeInViewport();

  await marker.click();
  await expect(messageArticle(tab, 'Arrives while scrolled up')).toBeInViewport();
  await expect(marker).toHaveCount(0);
});
