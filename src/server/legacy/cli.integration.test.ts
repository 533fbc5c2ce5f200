/**
 * The real `migrate:legacy` CLI in a child process (what `npm run migrate:legacy -- ...` runs): its
 * steps, output and exit codes, against the test run's redis-server (old data in db 2, Parley in db 0).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '~/server/redis/keys';
import { createHarness, testRedisUrl, type Harness } from '~/server/testing/harness';
import { bodyKey, storedBodyCount } from '~/server/testing/stored-bodies';
import {
  oldMessage,
  oldSession,
  pyIso,
  storeChatMessage,
  storeChatMessagesFast,
  storeChatSession,
} from '~/server/testing/legacy-fixtures';
import { parleyIdFor } from './ids';

let h: Harness;
let old: Redis;
let oldUrl: string;

beforeAll(() => {
  h = createHarness();
  const url = new URL(testRedisUrl());
  url.pathname = '/2';
  oldUrl = url.toString();
  old = new Redis(oldUrl, { protocol: 2 });
});
afterAll(async () => {
  await old.flushdb();
  old.disconnect();
  await h.close();
});

function cli(
  args: string[],
  onOutput?: (out: string, kill: () => void) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'src/server/legacy/cli.ts', ...args], {
      env: { ...process.env, REDIS_URL: testRedisUrl(), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const kill = () => child.kill('SIGKILL');
    const collect = (d: Buffer) => {
      out += d.toString();
      onOutput?.(out, kill);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

describe('npm run migrate:legacy', () => {
  it('dry run, apply, validate (0, then 1 on a difference), rollback, and usage errors', { timeout: 120_000 }, async () => {
    await old.flushdb();
    await h.redis.del(keys.legacyLedger);
    const owner = await h.user();
    const pid = `cli${randomUUID().slice(0, 6)}`;
    const sid = randomUUID();
    await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: 'CLI' }));
    const t0 = Date.parse('2024-06-01T12:00:00Z');
    const messages = [0, 1, 2].map((i) => oldMessage({ project_id: pid, session_id: sid, content: `cli ${i}`, created_at: pyIso(t0 + i) }));
    for (const m of messages) await storeChatMessage(old, m);
    const from = ['--from', oldUrl];

    expect(await cli(['--dry-run'])).toMatchObject({ code: 2, out: expect.stringContaining('--from redis://... (the old Redis) is required') as unknown });
    expect(await cli([...from, '--apply'])).toMatchObject({ code: 2, out: expect.stringContaining('--apply needs --owner') as unknown });
    // A Redis Cluster target is refused before anything is touched (the ledger cannot share a pipeline there).
    expect(await cli([...from, '--apply', '--owner', 'nobody', '--to', 'redis+cluster://127.0.0.1:1,127.0.0.1:2'])).toMatchObject({
      code: 2,
      out: expect.stringContaining('The legacy import cannot write to a Redis Cluster') as unknown,
    });

    const dry = await cli([...from, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('3 messages in 1 sessions of 1 projects would be imported');

    const dir = await mkdtemp(path.join(os.tmpdir(), 'parley-legacy-cli-'));
    const applied = await cli([...from, '--apply', '--owner', owner.username, '--backup-dir', dir]);
    expect(applied.code).toBe(0);
    expect(applied.out).toContain('Imported 3 messages');
    expect(applied.out).toMatch(/Backup: .*legacy-backup-.*\.jsonl \(6 keys/);

    const valid = await cli([...from, '--validate']);
    expect(valid.code).toBe(0);
    expect(valid.out).toMatch(/\| total +\| 1 sessions +\| +3 \|/);

    const projectId = parleyIdFor('project', pid);
    const sessionId = parleyIdFor('session', sid, pid);
    const key = bodyKey(projectId, sessionId, 2);
    await h.redis.hset(key, '2', (await h.redis.hget(key, '2'))!.replace('cli 1', 'cli one'));
    const invalid = await cli([...from, '--validate']);
    expect(invalid.code).toBe(1);
    expect(invalid.out).toContain('DIFFERENT');

    const undone = await cli(['--rollback']);
    expect(undone.code).toBe(0);
    expect(undone.out).toContain('Removed 3 messages, 1 sessions and 1 projects');
    expect(await h.redis.exists(keys.project(projectId))).toBe(0);
  });

  it('kill -9 in the middle of --apply: the rerun finishes the import with nothing duplicated', { timeout: 180_000 }, async () => {
    await old.flushdb();
    await h.redis.del(keys.legacyLedger);
    const owner = await h.user();
    const pid = `kill${randomUUID().slice(0, 6)}`;
    const sid = randomUUID();
    await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: 'Killed' }));
    const t0 = Date.parse('2024-06-01T12:00:00Z');
    const messages = Array.from({ length: 10_000 }, (_, i) =>
      oldMessage({ project_id: pid, session_id: sid, content: `k${i}`, created_at: pyIso(t0 + i * 10) }),
    );
    await storeChatMessagesFast(old, messages);
    const from = ['--from', oldUrl];
    const dir = await mkdtemp(path.join(os.tmpdir(), 'parley-legacy-kill-'));

    // The progress lines (stderr, one per 10% when not on a terminal) show the import is under way.
    const killed = await cli([...from, '--apply', '--owner', owner.username, '--backup-dir', dir], (out, kill) => {
      if (/^1000\/10000 messages$/m.test(out)) kill();
    });
    expect(killed.signal).toBe('SIGKILL');
    const projectId = parleyIdFor('project', pid);
    const sessionId = parleyIdFor('session', sid, pid);
    const partial = await storedBodyCount(h.redis, projectId, sessionId);
    expect(partial).toBeLessThan(10_000);

    const rerun = await cli([...from, '--apply', '--owner', owner.username, '--backup-dir', dir]);
    expect(rerun.code).toBe(0);
    expect(rerun.out).toContain(`Imported ${10_000 - partial} messages (${partial} already imported by an earlier run`);
    const valid = await cli([...from, '--validate']);
    expect(valid.code).toBe(0);
    expect(await storedBodyCount(h.redis, projectId, sessionId)).toBe(10_000);
    expect(Number(await h.redis.hget(keys.session(projectId, sessionId), 'messageCount'))).toBe(10_000);
  });
});
