/**
 * The migration from the old storage, against real Redis: the old layouts are written by fixtures with
 * the seed's own commands (SETEX + LPUSH + HSET + HINCRBY + SADD) into a database of their own (db 1 of
 * the test redis-server: the "old Redis"), and imported into Parley (db 0).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { allMessages, createHarness, testRedisUrl, type Harness, type TestUser } from '~/server/testing/harness';
import {
  oldMessage,
  oldSession,
  pyIso,
  storeChatMessage,
  storeChatMessagesFast,
  storeChatSession,
  storeExpiredMessages,
  writeMemoryEntry,
  writeSessionBlob,
  type OldMessage,
} from '~/server/testing/legacy-fixtures';
import { keys } from '~/server/redis/keys';
import { bodyKey, storedBodies, storedBodyCount } from '~/server/testing/stored-bodies';
import { restoreBackup } from './backup';
import { parleyIdFor } from './ids';
import { apply, dryRun, type ApplyOptions } from './migrate';
import { rollback } from './rollback';
import { readSource } from './source';
import { validate } from './validate';

let h: Harness;
let old: Redis;
let owner: TestUser;
let dir: string;

beforeAll(async () => {
  h = createHarness();
  const url = new URL(testRedisUrl());
  url.pathname = '/1';
  old = new Redis(url.toString(), { protocol: 2 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'parley-legacy-'));
});

afterAll(async () => {
  await old.flushdb();
  old.disconnect();
  await h.close();
});

beforeEach(async () => {
  await old.flushdb();
  // Each test owns the ledger (tests in this file run one after the other).
  await h.redis.del(keys.legacyLedger);
  owner = await h.user();
});

const options = (extra: Partial<ApplyOptions> = {}): ApplyOptions => ({
  owner: owner.username,
  backupFile: path.join(dir, `backup-${randomUUID()}.jsonl`),
  sourceLabel: 'test',
  eventLogMaxLen: 10_000,
  outbox: false,
  ...extra,
});

/** Every key and value of the old Redis, to prove the tool never changes it. */
async function sourceState(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of (await old.keys('*')).sort()) out[k] = (await old.dumpBuffer(k))?.toString('base64') ?? '';
  return out;
}

const t0 = Date.parse('2024-03-01T09:00:00Z');

/** One project in all three old layouts. */
async function seedAllLayouts(pid = `acme${randomUUID().slice(0, 6)}`) {
  const sid = randomUUID();
  await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: 'Launch plan', created_at: pyIso(t0) }));
  const live: OldMessage[] = [
    oldMessage({ project_id: pid, session_id: sid, content: 'First', created_at: pyIso(t0 + 1000, 1) }),
    oldMessage({
      project_id: pid,
      session_id: sid,
      role: 'ai_pm',
      content: 'Réponse: 日本語 👍🏽 done',
      created_at: pyIso(t0 + 2000),
      ai_response: { user_explanation: 'ok', technical_instruction: 'ship', confidence: 0.62 },
      confidence: 0.62,
    }),
    // Same millisecond as the next one: list order (LPUSH) breaks the tie.
    oldMessage({ project_id: pid, session_id: sid, content: 'Tie A', created_at: pyIso(t0 + 3000, 500) }),
    oldMessage({ project_id: pid, session_id: sid, content: 'Tie B', created_at: pyIso(t0 + 3000, 500), is_edited: true, reactions: [{ emoji: '👍', user_id: 'x' }] }),
  ];
  for (const m of live.slice(0, 2)) await storeChatMessage(old, m);
  const expired = [oldMessage({ project_id: pid, session_id: sid, content: 'Gone', created_at: pyIso(t0 + 2500) })];
  await storeExpiredMessages(old, expired);
  for (const m of live.slice(2)) await storeChatMessage(old, m);

  const blobSid = `legacy-${randomUUID().slice(0, 8)}`;
  const blobMessages = [
    oldMessage({ id: 'msg-1', project_id: pid, session_id: blobSid, content: 'From the blob', created_at: pyIso(t0 - 5000) }),
    oldMessage({ id: 'msg-2', project_id: pid, session_id: blobSid, role: 'ai_pm', content: 'Blob answer', created_at: pyIso(t0 - 4000) }),
  ];
  await writeSessionBlob(old, { id: blobSid, project_id: pid, title: 'Old blob', messages: blobMessages });

  const memoryMessage = oldMessage({ project_id: pid, session_id: sid, content: 'Remembered', created_at: pyIso(t0 + 500) });
  await writeMemoryEntry(old, pid, 'chat', memoryMessage.id, memoryMessage);
  // The same message in the memory layout and the interim one: imported once.
  await writeMemoryEntry(old, pid, 'chat', `dup-${live[0]!.id}`, live[0]);
  await writeMemoryEntry(old, pid, 'context', 'goals', { goal: 'ship v2' });
  return { pid, sid, live, expired, blobSid, blobMessages, memoryMessage };
}

describe('legacy migration', () => {
  it('dry run reports projects, sessions, messages, expired bodies and skips, and changes nothing', async () => {
    const { pid, sid, expired } = await seedAllLayouts();
    const before = await sourceState();
    const report = await dryRun(old);
    expect(report.projects).toBe(1);
    const sessionIds = report.sessions.map((s) => s.legacySessionId);
    expect(sessionIds).toHaveLength(2);
    expect(sessionIds).toContain(sid);
    expect(sessionIds.filter((id) => id.startsWith('legacy-'))).toHaveLength(1);
    expect(report.messages).toBe(7); // 4 interim + 2 blob + 1 memory (the duplicate is skipped)
    expect(report.expired).toEqual([{ project: pid, session: sid, id: expired[0]!.id }]);
    expect(report.skipped).toHaveLength(1);
    expect(report.skipped[0]!.reason).toContain('duplicate of the interim copy');
    expect(report.otherMemory).toEqual({ context: 1 });
    expect(await sourceState()).toEqual(before);
    expect(await h.redis.exists(keys.project(parleyIdFor('project', pid)))).toBe(0);
  });

  it('apply backs up, imports in the old order with ids kept, validates, and a rerun adds nothing', async () => {
    const { pid, sid, live, blobSid, blobMessages, memoryMessage } = await seedAllLayouts();
    const before = await sourceState();
    const opts = options();
    const report = await apply(old, h.redis, opts);
    expect(report).toMatchObject({ projectsCreated: 1, sessionsCreated: 2, imported: 7, alreadyImported: 0, conflicts: [] });
    expect(await sourceState()).toEqual(before);

    // The backup holds every key read, with type and expiry, restorable.
    const lines = (await readFile(opts.backupFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ format: 'parley-legacy-backup', version: 1, keys: lines.length - 1 });
    const byKey = new Map(lines.slice(1).map((l) => [l.key as string, l]));
    const bodyKey = `project:${pid}:sessions:${sid}:messages:${live[0]!.id}`;
    expect(byKey.get(bodyKey)).toMatchObject({ type: 'string' });
    expect(byKey.get(bodyKey)?.expireAt).toBeGreaterThan(Date.now());
    expect(byKey.get(`project:${pid}:sessions:${sid}:messages`)).toMatchObject({ type: 'list', expireAt: null });
    expect(byKey.has(`project:${pid}:memory:context:goals`)).toBe(false);

    const projectId = parleyIdFor('project', pid);
    const ownerView = await owner.caller.project.get({ projectId });
    expect(ownerView.name).toBe(`Imported ${pid}`);
    const sessions = await owner.caller.session.list({ projectId });
    expect(sessions.map((s) => s.title).sort()).toEqual(['Launch plan', 'Old blob']);

    const main = await allMessages(owner, { projectId, sessionId: sid });
    expect(main.map((m) => m.content)).toEqual(['Remembered', 'First', 'Réponse: 日本語 👍🏽 done', 'Tie A', 'Tie B']);
    expect(main.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(main[0]!.id).toBe(memoryMessage.id);
    expect(main[1]).toMatchObject({ id: live[0]!.id, authorId: owner.id, role: 'user', createdAt: '2024-03-01T09:00:01.000Z' });
    expect(main[2]).toMatchObject({
      role: 'ai_pm',
      authorId: 'ai_pm',
      confidence: 0.62,
      aiResponse: { user_explanation: 'ok', technical_instruction: 'ship', confidence: 0.62 },
    });
    expect(main[4]).toMatchObject({ isEdited: true, reactions: [{ emoji: '👍', userId: 'x' }] });

    // Non-UUID legacy ids become stable UUIDs; the old id is kept in metadata.
    const blob = await allMessages(owner, { projectId, sessionId: parleyIdFor('session', blobSid, pid) });
    expect(blob.map((m) => [m.id, m.content, m.metadata.legacyId])).toEqual([
      [parleyIdFor('message', 'msg-1', pid), 'From the blob', 'msg-1'],
      [parleyIdFor('message', 'msg-2', pid), 'Blob answer', 'msg-2'],
    ]);
    expect(blobMessages).toHaveLength(2);

    const check = await validate(old, h.redis);
    expect(check.ok).toBe(true);
    expect(check.rows.find((r) => r.session === sid)).toMatchObject({ source: 5, expired: 1, target: 5, missing: 0 });

    const again = await apply(old, h.redis, options());
    expect(again).toMatchObject({ projectsCreated: 0, sessionsCreated: 0, imported: 0, alreadyImported: 7 });
    expect(await allMessages(owner, { projectId, sessionId: sid })).toHaveLength(5);
    expect((await validate(old, h.redis)).ok).toBe(true);
  });

  it('validate fails when a message is missing or changed in Parley', async () => {
    const { pid, sid, live } = await seedAllLayouts();
    await apply(old, h.redis, options());
    const projectId = parleyIdFor('project', pid);
    const sessionId = parleyIdFor('session', sid, pid);
    // Change one stored body behind the store's back, as data damage would.
    const bodies = await storedBodies(h.redis, projectId, sessionId);
    const [seq, body] = Object.entries(bodies).find(([, b]) => b.includes(live[0]!.id))!;
    await h.redis.hset(bodyKey(projectId, sessionId, seq), seq, body.replace('First', 'Fist'));
    const check = await validate(old, h.redis);
    expect(check.ok).toBe(false);
    expect(check.rows.find((r) => r.session === sid)).toMatchObject({ changed: 1, ok: false });
  });

  it('refuses to apply without space for the backup, and changes nothing', async () => {
    const { pid } = await seedAllLayouts();
    await expect(apply(old, h.redis, options({ freeBytes: () => Promise.resolve(1000) }))).rejects.toThrow(/Not enough free space/);
    expect(await h.redis.exists(keys.project(parleyIdFor('project', pid)))).toBe(0);
    expect(await h.redis.exists(keys.legacyLedger)).toBe(0);
  });

  it('a crash in the middle of a 10,000-message import: the rerun finishes with nothing duplicated', async () => {
    const pid = `big${randomUUID().slice(0, 6)}`;
    const sid = randomUUID();
    await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: 'Big' }));
    const messages = Array.from({ length: 10_000 }, (_, i) =>
      oldMessage({ project_id: pid, session_id: sid, content: `m${i} ✓`, created_at: pyIso(t0 + i * 10), role: i % 3 === 0 ? 'ai_pm' : 'user' }),
    );
    await storeChatMessagesFast(old, messages);

    await expect(
      apply(old, h.redis, options({ afterBatch: (n) => { if (n >= 3000) throw new Error('simulated crash'); } })),
    ).rejects.toThrow('simulated crash');
    const projectId = parleyIdFor('project', pid);
    const sessionId = parleyIdFor('session', sid, pid);
    const partial = await storedBodyCount(h.redis, projectId, sessionId);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(10_000);

    const rerun = await apply(old, h.redis, options());
    expect(rerun.imported + rerun.alreadyImported).toBe(10_000);
    expect(rerun.alreadyImported).toBe(partial);
    const all = await allMessages(owner, { projectId, sessionId });
    expect(all).toHaveLength(10_000);
    expect(new Set(all.map((m) => m.id)).size).toBe(10_000);
    expect(all.map((m) => m.content)).toEqual(messages.map((m) => m.content));
    const session = await owner.caller.session.get({ projectId, sessionId });
    expect(session.messageCount).toBe(10_000);
    expect((await validate(old, h.redis)).ok).toBe(true);
  });

  it('rollback removes exactly what the migration added, keeps what others wrote, and restore brings the source back', async () => {
    const { pid, sid } = await seedAllLayouts();
    const before = await sourceState();
    const snapBefore = await readSource(old);
    const opts = options();
    await apply(old, h.redis, opts);
    const projectId = parleyIdFor('project', pid);
    const sessionId = parleyIdFor('session', sid, pid);

    // Someone kept talking in an imported session, and in a session of their own in the project.
    await owner.caller.message.send({ projectId, sessionId, id: randomUUID(), content: 'after the migration' });
    const own = await owner.caller.session.create({ projectId, title: 'Mine' });
    await owner.caller.message.send({ projectId, sessionId: own.id, id: randomUUID(), content: 'mine' });
    // A project of theirs that has nothing to do with the migration.
    const other = await owner.caller.project.create({ name: 'Unrelated' });

    const first = await rollback(h.redis);
    expect(first).toMatchObject({ sessionsRemoved: 1, messagesRemoved: 2, projectsRemoved: 0 });
    expect(first.kept).toEqual([
      expect.stringContaining(`session ${sessionId}`),
      expect.stringContaining(`project ${projectId}`),
    ]);
    expect((await allMessages(owner, { projectId, sessionId })).map((m) => m.content)).toContain('after the migration');
    expect((await owner.caller.session.list({ projectId })).map((s) => s.title).sort()).toEqual(['Launch plan', 'Mine']);
    expect((await owner.caller.project.list()).map((p) => p.id)).toContain(other.id);

    // Once the operator removed what others added (here: the whole session and own session), the rest goes.
    const last = await storedBodyCount(h.redis, projectId, sessionId);
    await h.redis.hdel(bodyKey(projectId, sessionId, last), String(last));
    await h.redis.zrem(keys.sessions(projectId), own.id);
    const second = await rollback(h.redis);
    expect(second).toMatchObject({ sessionsRemoved: 1, messagesRemoved: 5, projectsRemoved: 1, kept: [] });
    await expect(owner.caller.project.get({ projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await owner.caller.project.list()).map((p) => p.id)).toEqual([other.id]);
    expect(await h.redis.exists(keys.legacyLedger)).toBe(0);

    // The source was never touched; restore puts it back even after it was lost.
    expect(await sourceState()).toEqual(before);
    await old.flushdb();
    const restored = await restoreBackup(old, opts.backupFile);
    expect(restored).toEqual({ restored: snapBefore.keysRead.length, expired: [] });
    const snapAfter = await readSource(old);
    expect(snapAfter.projects.get(pid)?.sessions.get(sid)?.messages.map((m) => m.message)).toEqual(
      snapBefore.projects.get(pid)?.sessions.get(sid)?.messages.map((m) => m.message),
    );
    expect(await old.ttl(`project:${pid}:sessions:${sid}`)).toBeGreaterThan(0);
  });
});
