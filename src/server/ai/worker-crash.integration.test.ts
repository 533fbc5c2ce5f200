import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerIdFor } from '~/server/ai/ids';
import { configureAi } from '~/server/ai/settings';
import { AiWorker } from '~/server/ai/worker';
import { createRedis } from '~/server/redis/client';
import { keys } from '~/server/redis/keys';
import { startFakeOpenAI, type FakeOpenAI } from '~/server/testing/fake-openai';
import { allMessages, createHarness, projectWithSession, testRedisUrl, type Harness, type TestUser } from '~/server/testing/harness';
import { openSubscription } from '~/server/testing/subscriptions';
import { waitFor } from '~/server/testing/wait';
import type { MessageDTO } from '~/shared/types';

/**
 * The answer survives its worker: `npm run worker`'s entry point runs as a real child process, is
 * SIGKILLed mid-stream, and a worker that starts afterwards reclaims the job (XAUTOCLAIM) and finishes
 * the SAME answer once. A reader that "reloads" mid-stream sees the partial answer, then its end.
 */
const root = path.resolve(import.meta.dirname, '../../..');
let h: Harness;
let alice: TestUser;
let ai: FakeOpenAI;
let child: ChildProcess | null = null;

const CLAIM_IDLE_MS = 1500;

beforeAll(async () => {
  ai = await startFakeOpenAI();
  configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: CLAIM_IDLE_MS, sweepMs: 500 });
  h = createHarness();
  alice = await h.user();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  configureAi(null);
  await h.close();
  await ai.close();
});

function startWorkerProcess(): ChildProcess {
  const proc = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'src/server/ai/worker-main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      REDIS_URL: testRedisUrl(),
      AI_BASE_URL: ai.url,
      AI_MODEL: 'fake-pm',
      AI_MAX_RETRIES: '0',
      AI_FLUSH_MS: '20',
      AI_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return proc;
}

describe('a worker killed mid-stream', () => {
  it('leaves its job to be reclaimed, and the same answer finishes once', async () => {
    const ref = await projectWithSession(alice);
    const sub = await openSubscription(alice.caller.events.subscribe({ projectId: ref.projectId }));
    // A tab following the project the whole time: it reads events as they come.
    const seen: MessageDTO[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const e of await sub.drain(100)) {
          if (e.event.type === 'message.created' || e.event.type === 'message.updated') seen.push(e.event.message);
        }
      }
    })();
    try {
      // The first model call streams two tokens, then hangs; the second (after the reclaim) answers.
      ai.enqueue({ tokens: ['Draft ', 'plan ', 'never finished'], holdAfter: 2 }, { tokens: ['Final ', 'plan.\n\nConfidence: 0.9'] });
      child = startWorkerProcess();
      const q: MessageDTO = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'plan the launch' });
      const answerId = answerIdFor(q.id);

      // A reader that loads the session now (a reload) sees the partial answer, streaming.
      await waitFor(async () => {
        const a = (await allMessages(alice, ref)).find((m) => m.id === answerId);
        return a?.status === 'streaming' && a.content === 'Draft plan';
      }, 20_000, 'the partial answer');

      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
      child = null;
      expect(await h.redis.xlen(keys.aiJobs(ref.projectId))).toBe(1);

      const rescuer = new AiWorker({ redis: h.redis, store: h.store, subscriber: () => createRedis(testRedisUrl()) });
      await rescuer.start();
      try {
        await waitFor(async () => {
          const a = (await allMessages(alice, ref)).find((m) => m.id === answerId);
          return a?.status === 'delivered';
        }, 20_000, 'the reclaimed answer to finish');
        expect(rescuer.stats.reclaimed).toBe(1);
      } finally {
        await rescuer.close();
      }

      const messages = await allMessages(alice, ref);
      expect(messages.map((m) => [m.id, m.role])).toEqual([
        [q.id, 'user'],
        [answerId, 'ai_pm'],
      ]);
      expect(messages[1]).toMatchObject({ status: 'delivered', content: 'Final plan.', confidence: 0.9 });
      expect(await h.redis.xlen(keys.aiJobs(ref.projectId))).toBe(0);

      // The tab saw the partial answer while it streamed, and ends with the same answer as a reload.
      await waitFor(() => seen.filter((m) => m.id === answerId).at(-1)?.status === 'delivered', 20_000, 'the tab to see the end');
      const mine = seen.filter((m) => m.id === answerId);
      expect(mine.some((m) => m.status === 'streaming' && m.content === 'Draft plan')).toBe(true);
      expect(mine.at(-1)).toEqual(messages[1]);
    } finally {
      watching = false;
      await watcher;
      await sub.close();
    }
  });
});
