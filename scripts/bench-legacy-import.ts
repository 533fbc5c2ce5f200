/**
 * Measures `npm run migrate:legacy -- --apply` on a 100,000-message old Redis (issue 11).
 *
 *   node --conditions=react-server --import tsx scripts/bench-legacy-import.ts [--messages 100000] [--sessions 20]
 *
 * Starts two throwaway redis-servers (the old one and Parley's, from the project's own launcher code),
 * fills the old one with the seed's exact write pattern (SETEX + LPUSH + HSET + HINCRBY per message,
 * HSET + EXPIRE + SADD per session; pipelined per 2,000 messages to fill it quickly), signs up the
 * owner account, then runs the real CLI (backup, import, then --validate) as a child process and
 * reports wall-clock time and messages per second for --apply.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer } from './lib/redis-server.mjs';
import { AuthService } from '../src/server/auth/service';
import { createRedis } from '../src/server/redis/client';
import { oldMessage, oldSession, pyIso, storeChatMessagesFast, storeChatSession } from '../src/server/testing/legacy-fixtures';

const { values } = parseArgs({ options: { messages: { type: 'string' }, sessions: { type: 'string' } } });
const total = Number(values.messages ?? 100_000);
const sessionCount = Number(values.sessions ?? 20);

const oldServer = await startRedisServer();
const parleyServer = await startRedisServer();
const backupDir = await mkdtemp(path.join(os.tmpdir(), 'parley-legacy-bench-'));
try {
  const old = new Redis(oldServer.url, { protocol: 2 });
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  const perSession = Math.ceil(total / sessionCount);
  let written = 0;
  for (let s = 0; s < sessionCount; s++) {
    const pid = `proj${s % 4}`;
    const sid = randomUUID();
    await storeChatSession(old, oldSession({ id: sid, project_id: pid, title: `Session ${s}` }));
    const n = Math.min(perSession, total - written);
    const batch = Array.from({ length: n }, (_, i) =>
      oldMessage({
        project_id: pid,
        session_id: sid,
        role: i % 2 ? 'ai_pm' : 'user',
        content: `Message ${i} of session ${s}: the plan for the next sprint, with some detail — ünïcode ✓`,
        created_at: pyIso(t0 + s * 10_000_000 + i * 1000),
      }),
    );
    await storeChatMessagesFast(old, batch);
    written += n;
  }
  old.disconnect();
  const target = createRedis(parleyServer.url);
  await new AuthService(target).signUp('bench-owner', 'correct horse battery');
  target.disconnect();
  console.log(`old Redis: ${written} messages in ${sessionCount} sessions of 4 projects`);

  // Redis alone (no durable tier), like a fresh Parley: DATABASE_URL is left out.
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const childEnv = { ...inherited, REDIS_URL: parleyServer.url, LOG_LEVEL: 'warn' };
  const run = (step: string[]) =>
    new Promise<{ ms: number; out: string; code: number | null }>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(
        process.execPath,
        ['--conditions=react-server', '--import', 'tsx', 'src/server/legacy/cli.ts', '--from', oldServer.url, ...step],
        { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ ms: performance.now() - started, out, code }));
    });

  const applied = await run(['--apply', '--owner', 'bench-owner', '--backup-dir', backupDir]);
  console.log(applied.out.split('\n').filter((l) => /^(Backup|Imported)/.test(l)).join('\n'));
  console.log(`--apply: exit ${applied.code}, ${(applied.ms / 1000).toFixed(1)} s wall clock (process start, read, backup, import): ${Math.round(written / (applied.ms / 1000))} messages/s`);
  const validated = await run(['--validate']);
  console.log(validated.out.split('\n').slice(-3).join('\n'));
  console.log(`--validate: exit ${validated.code}, ${(validated.ms / 1000).toFixed(1)} s`);
} finally {
  await oldServer.destroy();
  await parleyServer.destroy();
  await rm(backupDir, { recursive: true, force: true });
}
