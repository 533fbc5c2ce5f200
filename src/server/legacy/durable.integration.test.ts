/**
 * The migration with the durable tier on: imported projects, sessions and messages reach PostgreSQL
 * through the outbox like any other write, and a rollback removes them there too (else read-through
 * would bring them back). Real redis-server and PostgreSQL of this file's own.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxLag } from '~/server/durable/tier';
import { useDurableTestEnv } from '~/server/testing/durable';
import { oldMessage, oldSession, pyIso, storeChatMessage, storeChatSession } from '~/server/testing/legacy-fixtures';
import { waitFor } from '~/server/testing/wait';
import { parleyIdFor } from './ids';
import { apply } from './migrate';
import { rollback } from './rollback';

const env = useDurableTestEnv({ consumer: true });
let old: Redis;

beforeAll(() => {
  const url = new URL(env.server.url);
  url.pathname = '/1';
  old = new Redis(url.toString(), { protocol: 2 });
});
afterAll(() => old.disconnect());

describe('legacy migration with the durable tier', () => {
  it('imported messages reach PostgreSQL, and rollback removes them from both stores', async () => {
    const { h } = env;
    const owner = await h.user();
    const pid = `pg${randomUUID().slice(0, 6)}`;
    const sid = randomUUID();
    await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: 'Durable' }));
    const t0 = Date.parse('2024-05-05T08:00:00Z');
    const messages = Array.from({ length: 30 }, (_, i) =>
      oldMessage({ project_id: pid, session_id: sid, content: `pg ${i} ✓`, created_at: pyIso(t0 + i * 1000), role: i % 2 ? 'ai_pm' : 'user' }),
    );
    for (const m of messages) await storeChatMessage(old, m);

    const report = await apply(old, h.redis, {
      owner: owner.username,
      backupFile: path.join(await mkdtemp(path.join(os.tmpdir(), 'parley-legacy-pg-')), 'backup.jsonl'),
      sourceLabel: 'test',
      eventLogMaxLen: 10_000,
      outbox: true,
    });
    expect(report.imported).toBe(30);

    const projectId = parleyIdFor('project', pid);
    const rows = async () =>
      (
        await h.pool.query<{ id: string; seq: number; content: string; role: string; created_at: Date }>(
          'SELECT id, seq, content, role, created_at FROM messages WHERE project_id = $1 ORDER BY seq',
          [projectId],
        )
      ).rows;
    await waitFor(async () => (await rows()).length === 30 && (await outboxLag(h.redis)).entries === 0, 20_000, 'imported rows in PostgreSQL');
    const stored = await rows();
    expect(stored.map((r) => [r.id, r.content, r.role, r.created_at.toISOString()])).toEqual(
      messages.map((m) => [m.id, m.content, m.role, new Date(`${m.created_at.slice(0, 23)}Z`).toISOString()]),
    );
    expect((await h.pool.query('SELECT title FROM sessions WHERE project_id = $1', [projectId])).rows).toEqual([{ title: 'Durable' }]);
    expect((await h.pool.query('SELECT name FROM projects WHERE id = $1', [projectId])).rows).toEqual([{ name: `Imported ${pid}` }]);

    const undone = await rollback(h.redis, { pg: h.pool });
    expect(undone).toMatchObject({ messagesRemoved: 30, sessionsRemoved: 1, projectsRemoved: 1, kept: [] });
    expect(await rows()).toEqual([]);
    expect((await h.pool.query('SELECT 1 FROM sessions WHERE project_id = $1', [projectId])).rows).toEqual([]);
    expect((await h.pool.query('SELECT 1 FROM projects WHERE id = $1', [projectId])).rows).toEqual([]);
    // Nothing comes back through read-through.
    await expect(owner.caller.project.get({ projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await owner.caller.project.list()).toEqual([]);
  });
});
