/**
 * message.search with the durable tier: PostgreSQL full-text search (the migration's tsvector column,
 * trigger and GIN index) over the rows the real outbox consumer persisted.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outboxLag } from '~/server/durable/tier';
import { useDurableTestEnv } from '~/server/testing/durable';
import { projectWithSession } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import { messageSearchInput } from '~/shared/search';
import { searchContract } from './search-contract';
import { ensureSearchLanguage } from './postgres';
import { searchMessages } from './service';

const env = useDurableTestEnv({ consumer: true });
const settle = () => waitFor(async () => (await outboxLag(env.h.redis)).entries === 0, 20_000, 'outbox drained');

searchContract({ h: () => env.h, settle, engine: 'postgres' });

describe('PostgreSQL full-text search', () => {
  it('keeps the vector current by trigger, uses the GIN index, and highlights with ts_headline', async () => {
    const u = await env.h.user();
    const ref = await projectWithSession(u);
    await u.caller.message.send({ ...ref, id: randomUUID(), content: `${'filler words here '.repeat(40)} the nebula appears ${'more filler '.repeat(40)}` });
    await settle();
    const page = await u.caller.message.search({ projectId: ref.projectId, query: 'nebula' });
    expect(page.items).toHaveLength(1);
    const parts = page.items[0]!.snippet;
    expect(parts.filter((p) => p.hit).map((p) => p.text)).toEqual(['nebula']);
    // A fragment around the hit, not the whole 1,000-character message.
    expect(parts.map((p) => p.text).join('').length).toBeLessThan(400);
    const { rows } = await env.h.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'messages' AND indexdef LIKE '%USING gin (search_tsv)%'",
    );
    expect(rows[0]!.n).toBe('1');
  });

  it('pages by relevance with a cursor, every hit once', async () => {
    const u = await env.h.user();
    const ref = await projectWithSession(u);
    for (let i = 1; i <= 5; i++) {
      await u.caller.message.send({ ...ref, id: randomUUID(), content: `${'quasar '.repeat(i)}number${i}` });
    }
    await settle();
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 10; n++) {
      const page: Awaited<ReturnType<typeof u.caller.message.search>> = await u.caller.message.search({
        projectId: ref.projectId,
        query: 'quasar',
        sort: 'relevance',
        limit: 2,
        cursor,
      });
      seen.push(...page.items.map((i) => i.snippet.map((p) => p.text).join('')));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen.map((s) => /number(\d)/.exec(s)?.[1])).toEqual(['5', '4', '3', '2', '1']);
    // A newest-first cursor is not a relevance cursor: a clear error, not a wrong page.
    const newest = await u.caller.message.search({ projectId: ref.projectId, query: 'quasar', limit: 2 });
    await expect(
      u.caller.message.search({ projectId: ref.projectId, query: 'quasar', sort: 'relevance', cursor: newest.nextCursor }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('SEARCH_LANGUAGE re-indexes with the new configuration (english stems), and back', async () => {
    const u = await env.h.user();
    const ref = await projectWithSession(u);
    await u.caller.message.send({ ...ref, id: randomUUID(), content: 'We are launching the rockets' });
    await settle();
    const search = (language: string) =>
      searchMessages(env.h, u, messageSearchInput.parse({ projectId: ref.projectId, query: 'rocket launch' }), {
        language,
        scanMaxMessages: 10_000,
      });
    expect((await search('simple')).items).toHaveLength(0);
    await ensureSearchLanguage(env.h.pool, 'english');
    await waitFor(async () => (await search('english')).items.length === 1, 20_000, 'english re-index');
    await ensureSearchLanguage(env.h.pool, 'simple');
    const simple = await env.h.pool.query('SELECT 1 FROM search_settings WHERE config = \'simple\'::regconfig');
    expect(simple.rowCount).toBe(1);
    await waitFor(
      async () => (await env.h.pool.query("SELECT 1 FROM messages WHERE search_config <> 'simple'::regconfig")).rowCount === 0,
      20_000,
      'simple re-index',
    );
    expect((await search('simple')).items).toHaveLength(0);
  });

  it('an unknown SEARCH_LANGUAGE is a clear error, not an empty result', async () => {
    const u = await env.h.user();
    const ref = await projectWithSession(u);
    await expect(
      searchMessages(env.h, u, messageSearchInput.parse({ projectId: ref.projectId, query: 'x' }), {
        language: 'klingon',
        scanMaxMessages: 10_000,
      }),
    ).rejects.toThrow(/SEARCH_LANGUAGE=klingon/);
  });
});
