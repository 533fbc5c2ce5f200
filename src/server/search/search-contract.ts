/**
 * What `message.search` promises in both modes (Redis scan and PostgreSQL full-text search): one suite,
 * run by redis-search.integration.test.ts and postgres-search.integration.test.ts over real stores.
 * `settle` waits until the last write is searchable (the outbox drained, with the durable tier).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectWithSession, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import type { SearchPageDTO } from '~/shared/search';

export interface ContractEnv {
  h: () => Harness;
  settle: () => Promise<void>;
  engine: SearchPageDTO['engine'];
}

const text = (hit: SearchPageDTO['items'][number]) => hit.snippet.map((p) => p.text).join('');
const hitWords = (hit: SearchPageDTO['items'][number]) => hit.snippet.filter((p) => p.hit).map((p) => p.text.toLowerCase());

export function searchContract(env: ContractEnv) {
  let owner: TestUser;
  let other: TestUser;
  let stranger: TestUser;
  let a: SessionRef;
  let b: SessionRef;
  let strangerRef: SessionRef;
  const send = (u: TestUser, ref: SessionRef, content: string) =>
    u.caller.message.send({ ...ref, id: randomUUID(), content });

  beforeAll(async () => {
    const h = env.h();
    owner = await h.user();
    other = await h.user();
    stranger = await h.user();
    a = await projectWithSession(owner, { project: 'Rocket', session: 'Launch planning' });
    b = { projectId: a.projectId, sessionId: (await owner.caller.session.create({ projectId: a.projectId, title: 'Budget' })).id };
    await owner.caller.project.addMember({ projectId: a.projectId, username: other.username });
    await other.caller.project.acceptInvite({ projectId: a.projectId });
    strangerRef = await projectWithSession(stranger, { project: 'Elsewhere' });

    await send(owner, a, 'We decided the launch date is March 3rd.');
    await send(other, a, 'Launch launch launch: the launch party needs a launch venue.');
    await send(owner, b, 'The budget for the launch is tight.');
    await send(other, b, 'Unrelated chatter about lunch.');
    await send(stranger, strangerRef, 'A secret launch nobody else may see.');
    await env.settle();
  });

  describe(`message.search (${env.engine})`, () => {
    it('finds every matching message of the project, newest first, with snippets, session and author', async () => {
      const page = await owner.caller.message.search({ projectId: a.projectId, query: 'launch' });
      expect(page.engine).toBe(env.engine);
      expect(page.items).toHaveLength(3);
      const times = page.items.map((i) => i.createdAt);
      expect([...times].sort().reverse()).toEqual(times);
      const first = page.items.find((i) => text(i).includes('March'))!;
      expect(first).toMatchObject({ sessionId: a.sessionId, sessionTitle: 'Launch planning', authorName: owner.username });
      expect(first.seq).toBe(1);
      expect(hitWords(first)).toContain('launch');
      expect(page.items.some((i) => text(i).includes('secret'))).toBe(false);
      expect(page.nextCursor).toBeNull();
    });

    it('ranks by relevance when asked', async () => {
      const page = await owner.caller.message.search({ projectId: a.projectId, query: 'launch', sort: 'relevance' });
      expect(text(page.items[0]!)).toContain('party');
      expect(page.items).toHaveLength(3);
    });

    it('filters by session, author and time', async () => {
      const inB = await owner.caller.message.search({ projectId: a.projectId, sessionId: b.sessionId, query: 'launch' });
      expect(inB.items.map((i) => i.sessionId)).toEqual([b.sessionId]);
      const byOther = await owner.caller.message.search({ projectId: a.projectId, query: 'launch', author: other.username.toUpperCase() });
      expect(byOther.items.map((i) => i.authorName)).toEqual([other.username]);
      const all = await owner.caller.message.search({ projectId: a.projectId, query: 'launch' });
      const oldest = all.items[all.items.length - 1]!;
      const newest = all.items[0]!;
      const before = await owner.caller.message.search({ projectId: a.projectId, query: 'launch', before: newest.createdAt });
      expect(before.items.every((i) => i.createdAt < newest.createdAt)).toBe(true);
      expect(before.items.map((i) => i.messageId)).not.toContain(newest.messageId);
      const after = await owner.caller.message.search({ projectId: a.projectId, query: 'launch', after: oldest.createdAt });
      expect(after.items.every((i) => i.createdAt > oldest.createdAt)).toBe(true);
      expect(after.items.map((i) => i.messageId)).not.toContain(oldest.messageId);
    });

    it('all words must match; quotes match a phrase; -word excludes; or accepts either', async () => {
      const q = (query: string) => owner.caller.message.search({ projectId: a.projectId, query });
      expect((await q('launch budget')).items.map(text)).toEqual(['The budget for the launch is tight.']);
      expect((await q('"launch date"')).items).toHaveLength(1);
      expect((await q('"date launch"')).items).toHaveLength(0);
      expect((await q('launch -party -budget')).items.map(text)).toEqual(['We decided the launch date is March 3rd.']);
      expect((await q('lunch or tight')).items).toHaveLength(2);
    });

    it('without a projectId searches every project of the caller, and only those', async () => {
      const mine = await owner.caller.message.search({ query: 'launch' });
      expect(mine.items).toHaveLength(3);
      expect(mine.items.every((i) => i.projectId === a.projectId)).toBe(true);
      const theirs = await stranger.caller.message.search({ query: 'launch' });
      expect(theirs.items.map((i) => i.projectId)).toEqual([strangerRef.projectId]);
    });

    it('a non-member gets NOT_FOUND, exactly as for a project that does not exist', async () => {
      const refusal = { code: 'NOT_FOUND', message: 'Project not found' };
      await expect(stranger.caller.message.search({ projectId: a.projectId, query: 'launch' })).rejects.toMatchObject(refusal);
      await expect(stranger.caller.message.search({ projectId: randomUUID(), query: 'launch' })).rejects.toMatchObject(refusal);
      await expect(env.h().anonymous().message.search({ query: 'launch' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('never finds deleted messages, and finds edited ones by their current text only', async () => {
      const ref = await projectWithSession(owner, { project: 'Edits' });
      const gone = await send(owner, ref, 'zebra crossing');
      const edited = await send(owner, ref, 'giraffe neck');
      await owner.caller.message.delete({ ...ref, id: gone.id });
      await owner.caller.message.edit({ ...ref, id: edited.id, content: 'okapi neck' });
      await env.settle();
      const q = (query: string) => owner.caller.message.search({ projectId: ref.projectId, query });
      expect((await q('zebra')).items).toEqual([]);
      expect((await q('giraffe')).items).toEqual([]);
      const found = await q('okapi');
      expect(found.items).toHaveLength(1);
      expect(found.items[0]).toMatchObject({ messageId: edited.id, isEdited: true, seq: 2 });
    });

    it('handles unicode and punctuation', async () => {
      const ref = await projectWithSession(owner, { project: 'Unicode' });
      await send(owner, ref, 'Réunion à l’École demain');
      await send(owner, ref, '会议 在 明天');
      await send(owner, ref, 'We ship v2.0 (finally!) on launch-day, costs $100.');
      await env.settle();
      const q = (query: string) => owner.caller.message.search({ projectId: ref.projectId, query });
      expect((await q('école')).items.map(text)).toEqual(['Réunion à l’École demain']);
      expect((await q('RÉUNION')).items).toHaveLength(1);
      expect((await q('会议')).items).toHaveLength(1);
      expect((await q('finally!')).items).toHaveLength(1);
      expect((await q('launch-day')).items).toHaveLength(1);
      expect((await q('(finally')).items).toHaveLength(1);
    });

    it('treats injection attempts as text: no error, no stray results, nothing changed', async () => {
      const attempts = [
        "'; DROP TABLE messages; --",
        "') OR 1=1 --",
        '%d+ .* [a-z] %',
        ']] redis.call("FLUSHALL") [[',
        '\\" \\\\ \u0001 \u0002 <script>alert(1)</script>',
        '!!! & | <-> :*',
        '-- /* */',
      ];
      for (const query of attempts) {
        const page = await owner.caller.message.search({ projectId: a.projectId, query });
        expect(page.items, query).toEqual([]);
      }
      expect((await owner.caller.message.search({ projectId: a.projectId, query: 'launch' })).items).toHaveLength(3);
    });

    it('pages with a cursor: every hit once, no duplicates', async () => {
      const ref = await projectWithSession(owner, { project: 'Paging' });
      const second = (await owner.caller.session.create({ projectId: ref.projectId, title: 'Two' })).id;
      for (let i = 0; i < 7; i++) await send(owner, i % 2 ? ref : { ...ref, sessionId: second }, `needle number ${i}`);
      await send(owner, ref, 'haystack only');
      await env.settle();
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const page: SearchPageDTO = await owner.caller.message.search({ projectId: ref.projectId, query: 'needle', limit: 3, cursor });
        seen.push(...page.items.map(text));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(cursor).toBeNull();
      expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `needle number ${i}`));
    });

    it('refuses bad input with a clear BAD_REQUEST', async () => {
      const bad = async (input: Record<string, unknown>, message: RegExp) => {
        const err: unknown = await owner.caller.message.search(input as never).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, JSON.stringify(input).slice(0, 80)).toMatchObject({ code: 'BAD_REQUEST' });
        expect((err as Error).message).toMatch(message);
      };
      await bad({ projectId: a.projectId, query: '   ' }, /query must not be empty/);
      await bad({ projectId: a.projectId, query: 'x'.repeat(201) }, /at most 200/);
      await bad({ projectId: a.projectId, query: '-launch' }, /at least one word/);
      await bad({ projectId: a.projectId, query: 'launch', cursor: 'bm90LWEtY3Vyc29y' }, /cursor/);
      await bad({ projectId: a.projectId, query: 'launch', cursor: 'a b' }, /cursor/);
      await bad({ projectId: a.projectId, query: 'launch', limit: 51 }, /limit/);
      await bad({ projectId: a.projectId, query: 'launch', before: 'yesterday' }, /before/);
      await bad({ query: 'launch', sessionId: a.sessionId }, /sessionId needs projectId/);
      await bad({ projectId: a.projectId, query: Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ') }, /at most 16/);
    });
  });

  return { owner: () => owner, ref: () => a };
}
