/**
 * With the durable tier on, the AI PM's answer is a message like any other: its creation, its
 * streamed updates and its final state reach PostgreSQL through the outbox, and a retry's reset too.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerIdFor } from '~/server/ai/ids';
import { configureAi } from '~/server/ai/settings';
import { AiWorker } from '~/server/ai/worker';
import { outboxLag } from '~/server/durable/tier';
import { createRedis } from '~/server/redis/client';
import { useDurableTestEnv } from '~/server/testing/durable';
import { startFakeOpenAI, type FakeOpenAI } from '~/server/testing/fake-openai';
import { projectWithSession } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';

const env = useDurableTestEnv({ consumer: true });
let ai: FakeOpenAI;

beforeAll(async () => {
  ai = await startFakeOpenAI();
  configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500 });
});
afterAll(async () => {
  configureAi(null);
  await ai.close();
});

describe('the AI PM with the durable tier', () => {
  it('persists the answer (created, streamed, finished) and its retry in PostgreSQL', async () => {
    const { h } = env;
    const worker = new AiWorker({ redis: h.redis, store: h.store, subscriber: () => createRedis(env.server.url) });
    await worker.start();
    try {
      const alice = await h.user();
      const ref = await projectWithSession(alice);
      ai.enqueue({ status: 429 }, { tokens: ['Ship ', 'on Friday.\n\n', 'Confidence: 0.75'], delayMs: 20 });
      const q = await alice.caller.message.send({ ...ref, id: randomUUID(), content: 'when do we ship?' });
      const answerId = answerIdFor(q.id);
      const pgAnswer = async () =>
        (
          await h.pool.query<{ status: string; content: string; confidence: number | null; role: string; ai_response: Record<string, unknown> | null; metadata: Record<string, unknown> }>(
            'SELECT status, content, confidence, role, ai_response, metadata FROM messages WHERE project_id = $1 AND id = $2',
            [ref.projectId, answerId],
          )
        ).rows[0];
      await waitFor(async () => (await pgAnswer())?.status === 'failed', 20_000, 'the failed answer in PostgreSQL');
      await alice.caller.message.retry({ ...ref, id: answerId });
      await waitFor(async () => (await pgAnswer())?.status === 'delivered', 20_000, 'the delivered answer in PostgreSQL');
      await waitFor(async () => (await outboxLag(h.redis)).entries === 0, 20_000, 'the outbox to drain');
      expect(await pgAnswer()).toMatchObject({
        role: 'ai_pm',
        status: 'delivered',
        content: 'Ship on Friday.',
        confidence: 0.75,
        ai_response: { userExplanation: 'Ship on Friday.', confidence: 0.75, model: 'fake-pm' },
        metadata: { replyTo: q.id, attempt: 2 },
      });
    } finally {
      await worker.close();
    }
  });
});
