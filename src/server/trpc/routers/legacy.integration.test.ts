/** legacy.importLocal through the real router (createCaller), on the real Redis of the test run. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatImport } from '~/server/chat/import';
import { parleyIdFor } from '~/server/legacy/ids';
import { allMessages, createHarness, type Harness } from '~/server/testing/harness';
import type { LegacyLocalMessage } from '~/shared/legacy';

let h: Harness;
beforeAll(() => {
  h = createHarness();
});
afterAll(() => h.close());

const messages = (n: number, at = Date.parse('2024-02-02T10:00:00Z')): LegacyLocalMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    id: i === 0 ? `local-${randomUUID()}` : randomUUID(),
    content: `old ${i} — ✓`,
    role: i % 2 ? 'ai_pm' : 'user',
    // Two in the same millisecond keep the browser's order.
    createdAt: new Date(at + Math.floor(i / 2) * 1000).toISOString(),
  }));

describe('legacy.importLocal', () => {
  it('imports into an "Imported" session once, in the old order; a repeat stores nothing twice', async () => {
    const u = await h.user();
    const project = await u.caller.project.create({ name: 'Old things' });
    const input = { projectId: project.id, legacySessionId: 'abc', title: 'Sprint', messages: messages(5) };
    const first = await u.caller.legacy.importLocal(input);
    expect(first).toMatchObject({ imported: 5, alreadyPresent: 0 });
    const again = await u.caller.legacy.importLocal(input);
    expect(again).toEqual({ ...first, imported: 0, alreadyPresent: 5 });

    const session = await u.caller.session.get({ projectId: project.id, sessionId: first.sessionId });
    expect(session).toMatchObject({ title: 'Imported: Sprint', messageCount: 5 });
    const stored = await allMessages(u, { projectId: project.id, sessionId: first.sessionId });
    expect(stored.map((m) => m.content)).toEqual(input.messages.map((m) => m.content));
    expect(stored.map((m) => m.createdAt)).toEqual(input.messages.map((m) => m.createdAt));
    expect(stored[1]).toMatchObject({ role: 'ai_pm', authorId: 'ai_pm' });
    expect(stored[2]).toMatchObject({ role: 'user', authorId: u.id, id: input.messages[2]!.id });
    // A non-UUID id becomes a stable UUID; the old one is kept.
    expect(stored[0]!.metadata.legacyId).toBe(input.messages[0]!.id);
  });

  it('lands in the session the server-side migration made of the same legacy session', async () => {
    const u = await h.user();
    const legacyProject = `p${randomUUID().slice(0, 6)}`;
    const projectId = parleyIdFor('project', legacyProject);
    const sessionId = parleyIdFor('session', 'sess-1', legacyProject);
    const importer = new ChatImport(h.redis, { eventLogMaxLen: 1000, outbox: false });
    const now = new Date().toISOString();
    await importer.ensureProject({ id: projectId, name: 'Migrated', owner: u, createdAt: now });
    await importer.ensureSession({ projectId, id: sessionId, title: 'Old', createdAt: now, createdBy: u.id, metadata: {} });
    const msgs = messages(2);
    // The migration already brought the first one over (same legacy id, same Parley id).
    await importer.importMessages([
      { projectId, sessionId, id: parleyIdFor('message', msgs[0]!.id, legacyProject), content: msgs[0]!.content, role: 'user', author: u, createdAt: msgs[0]!.createdAt },
    ]);
    const result = await u.caller.legacy.importLocal({ projectId, legacySessionId: 'sess-1', legacyProjectId: legacyProject, messages: msgs });
    expect(result).toEqual({ sessionId, imported: 1, alreadyPresent: 1 });
    expect((await allMessages(u, { projectId, sessionId })).map((m) => m.content)).toEqual(msgs.map((m) => m.content));
  });

  it('members only: a non-member gets NOT_FOUND and nothing is stored', async () => {
    const owner = await h.user();
    const stranger = await h.user();
    const project = await owner.caller.project.create({ name: 'Private' });
    await expect(
      stranger.caller.legacy.importLocal({ projectId: project.id, legacySessionId: 'x', messages: messages(1) }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await owner.caller.session.list({ projectId: project.id })).toEqual([]);
    await expect(
      h.anonymous().legacy.importLocal({ projectId: project.id, legacySessionId: 'x', messages: messages(1) }),
    ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('bad input is a clear BAD_REQUEST', async () => {
    const u = await h.user();
    const project = await u.caller.project.create({ name: 'Checks' });
    const bad = [
      { messages: [] },
      { messages: [{ ...messages(1)[0]!, createdAt: 'yesterday' }] },
      { messages: [{ ...messages(1)[0]!, content: 'a\u0000b' }] },
      { messages: messages(201) },
    ];
    for (const b of bad) {
      await expect(u.caller.legacy.importLocal({ projectId: project.id, legacySessionId: 'x', ...b })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
    }
    expect(await u.caller.session.list({ projectId: project.id })).toEqual([]);
  });
});
