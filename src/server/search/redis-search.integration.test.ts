import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsFromEnv } from '~/server/limits/rate-limits';
import { createHarness, projectWithSession, type Harness } from '~/server/testing/harness';
import { messageSearchInput, type SearchPageDTO } from '~/shared/search';
import { searchContract } from './search-contract';
import { searchMessages } from './service';

let h: Harness;
beforeAll(() => {
  h = createHarness();
});
afterAll(() => h.close());

searchContract({ h: () => h, settle: () => Promise.resolve(), engine: 'redis-scan' });

describe('the bounded Redis scan', () => {
  it('says when it stopped at the budget, and the cursor goes on until every hit was found once', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    const other = (await u.caller.session.create({ projectId: ref.projectId, title: 'Other' })).id;
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      const content = i % 3 === 0 ? `comet ${i}` : `filler ${i}`;
      await u.caller.message.send({ ...ref, sessionId: i % 2 ? ref.sessionId : other, id: randomUUID(), content });
      if (i % 3 === 0) expected.push(content);
    }
    const settings = { language: 'simple', scanMaxMessages: 7 };
    const seen: string[] = [];
    const pages: SearchPageDTO[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 20; n++) {
      const input = messageSearchInput.parse({ projectId: ref.projectId, query: 'comet', cursor, limit: 50 });
      const page: SearchPageDTO = await searchMessages(h, u, input, settings);
      pages.push(page);
      seen.push(...page.items.map((i) => i.snippet.map((p) => p.text).join('')));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(cursor).toBeNull();
    expect([...seen].sort()).toEqual([...expected].sort());
    // 30 messages at 7 a page: 5 pages; all but the last stopped at the budget and said so.
    expect(pages).toHaveLength(5);
    for (const p of pages.slice(0, -1)) {
      expect(p.scanned).toBe(7);
      expect(p.notice).toMatch(/^Searched the newest 7 messages/);
    }
    expect(pages.at(-1)!.notice).toBeNull();
    expect(pages.reduce((n, p) => n + (p.scanned ?? 0), 0)).toBe(30);
  });

  it('finds terms JSON escapes (slash, backslash, quote) by the message text, not its JSON form', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    await u.caller.message.send({ ...ref, id: randomUUID(), content: 'files in C:\\temp and a/b, he said it\'s "done"' });
    await u.caller.message.send({ ...ref, id: randomUUID(), content: 'nothing to see' });
    const q = async (query: string) => (await u.caller.message.search({ projectId: ref.projectId, query })).items.length;
    expect(await q('C:\\temp')).toBe(1);
    expect(await q('a/b')).toBe(1);
    expect(await q('done"')).toBe(1);
    expect(await q('it\'s')).toBe(1);
    expect(await q('c:\\tmp')).toBe(0);
  });

  it('a message newer than the cursor does not shift later pages', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    for (let i = 0; i < 4; i++) await u.caller.message.send({ ...ref, id: randomUUID(), content: `orbit ${i}` });
    const first = await u.caller.message.search({ projectId: ref.projectId, query: 'orbit', limit: 2 });
    await u.caller.message.send({ ...ref, id: randomUUID(), content: 'orbit late' });
    const second = await u.caller.message.search({ projectId: ref.projectId, query: 'orbit', limit: 2, cursor: first.nextCursor });
    const all = [...first.items, ...second.items].map((i) => i.seq);
    expect(all).toEqual([4, 3, 2, 1]);
    expect(second.nextCursor).toBeNull();
  });
});

describe('abuse limit', () => {
  it('message.search counts against LIMIT_SEARCH_PER_MIN (the scan holds Redis while it runs)', async () => {
    const defaults = limitsFromEnv();
    const limited = createHarness(undefined, { limits: { ...defaults, rules: { ...defaults.rules, search: [{ points: 3, seconds: 60 }] } } });
    try {
      const u = await limited.user();
      const ref = await projectWithSession(u);
      for (let i = 0; i < 3; i++) await u.caller.message.search({ projectId: ref.projectId, query: 'anything' });
      await expect(u.caller.message.search({ projectId: ref.projectId, query: 'anything' })).rejects.toMatchObject({
        code: 'TOO_MANY_REQUESTS',
      });
    } finally {
      await limited.close();
    }
  });
});
