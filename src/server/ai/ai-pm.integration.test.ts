import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answerIdFor } from '~/server/ai/ids';
import { configureAi } from '~/server/ai/settings';
import { AiWorker } from '~/server/ai/worker';
import { createRedis } from '~/server/redis/client';
import { keyspaceNodes } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { scripts } from '~/server/redis/scripts';
import { startFakeOpenAI, type FakeOpenAI } from '~/server/testing/fake-openai';
import { allMessages, createHarness, projectWithSession, testRedisUrl, type Harness, type SessionRef, type TestUser } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import type { MessageDTO } from '~/shared/types';

let h: Harness;
let alice: TestUser;
let ai: FakeOpenAI;
const workers: AiWorker[] = [];

function startWorker(name?: string): AiWorker {
  const w = new AiWorker({ redis: h.redis, store: h.store, subscriber: () => createRedis(testRedisUrl()), ...(name ? { name } : {}) });
  workers.push(w);
  void w.start();
  return w;
}

beforeAll(async () => {
  ai = await startFakeOpenAI();
  configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
  h = createHarness();
  alice = await h.user();
});
afterEach(async () => {
  ai.release();
  await Promise.all(workers.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  configureAi(null);
  await h.close();
  await ai.close();
});
beforeEach(() => {
  ai.fallback = { tokens: ['Friday ', 'works.\n\n', '## Technical instruction\n', 'Branch on Wednesday.\n\n', 'Confidence: 0.82'] };
});

async function ask(u: TestUser, ref: SessionRef, content = 'can the AI PM plan our launch for Friday?'): Promise<MessageDTO> {
  return u.caller.message.send({ ...ref, id: randomUUID(), content });
}

async function answerOf(ref: SessionRef, question: MessageDTO, u = alice): Promise<MessageDTO | undefined> {
  return (await allMessages(u, ref)).find((m) => m.id === answerIdFor(question.id));
}

async function settled(ref: SessionRef, question: MessageDTO, u = alice): Promise<MessageDTO> {
  let answer: MessageDTO | undefined;
  await waitFor(async () => {
    answer = await answerOf(ref, question, u);
    return answer !== undefined && answer.status !== 'streaming';
  }, 20_000, 'the answer to finish');
  return answer!;
}

describe('the AI PM answers', () => {
  it('streams one answer into an ai_pm message with the structured parts, in batched updates', async () => {
    ai.fallback = { tokens: ['Friday ', 'works ', 'if ', 'we ', 'freeze ', 'scope.\n\n', '## Technical instruction\n', 'Branch.\n\n', 'Confidence: 0.82'], delayMs: 30 };
    startWorker();
    const ref = await projectWithSession(alice, { project: 'Apollo', session: 'Launch plan' });
    const question = await ask(alice, ref);
    const answer = await settled(ref, question);
    expect(answer).toMatchObject({
      role: 'ai_pm',
      status: 'delivered',
      authorName: 'AI PM',
      confidence: 0.82,
      content: 'Friday works if we freeze scope.\n\n## Technical instruction\nBranch.',
    });
    expect(answer.seq).toBe(question.seq + 1);
    expect(answer.aiResponse).toMatchObject({
      userExplanation: 'Friday works if we freeze scope.',
      technicalInstruction: 'Branch.',
      confidence: 0.82,
      model: 'fake-pm',
      completionTokens: 9,
    });
    expect(answer.aiResponse?.promptTokens).toBeGreaterThan(0);
    expect(answer.aiResponse?.latencyMs).toBeGreaterThanOrEqual(0);
    // The model saw the project, the session and the question.
    const sent = ai.requests.at(-1)!;
    expect(sent.model).toBe('fake-pm');
    expect(sent.messages[0]).toMatchObject({ role: 'system' });
    expect(sent.messages[0]!.content).toContain('Project: Apollo');
    expect(sent.messages[0]!.content).toContain('Chat session: Launch plan');
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: `${alice.username}: can the AI PM plan our launch for Friday?` });
    // One created event, the updates batched (fewer than one per token), all events reference the answer.
    const events = await h.redis.xrange(keys.events(ref.projectId), '-', '+');
    const forAnswer = events.filter(([, f]) => f[3] === ref.sessionId && f[5] === String(answer.seq));
    expect(forAnswer.filter(([, f]) => f[1] === 'message.created')).toHaveLength(1);
    const updates = forAnswer.filter(([, f]) => f[1] === 'message.updated').length;
    expect(updates).toBeGreaterThanOrEqual(2);
    // The job is gone once answered.
    expect(await h.redis.xlen(keys.aiJobs(ref.projectId))).toBe(0);
  });

  it('answers each question once, with two workers and a retried send', async () => {
    startWorker('w1');
    startWorker('w2');
    const ref = await projectWithSession(alice);
    const id = randomUUID();
    const before = ai.requests.length;
    const q = await alice.caller.message.send({ ...ref, id, content: 'plan it' });
    await alice.caller.message.send({ ...ref, id, content: 'plan it' });
    await settled(ref, q);
    // Let any stray duplicate job show itself: a sweep runs every 500 ms.
    await waitFor(async () => (await h.redis.xlen(keys.aiJobs(ref.projectId))) === 0, 5000);
    const messages = await allMessages(alice, ref);
    expect(messages.map((m) => m.role)).toEqual(['user', 'ai_pm']);
    expect(ai.requests.length - before).toBe(1);
  });

  it('keeps the job when no worker runs, and a worker started later answers it', async () => {
    const ref = await projectWithSession(alice);
    const q = await ask(alice, ref);
    expect(await h.redis.xlen(keys.aiJobs(ref.projectId))).toBe(1);
    expect(await answerOf(ref, q)).toBeUndefined();
    startWorker();
    expect((await settled(ref, q)).status).toBe('delivered');
  });

  it('a model that gives no confidence still delivers an answer (confidence null)', async () => {
    ai.enqueue({ tokens: ['Just ', 'do it.'] });
    startWorker();
    const ref = await projectWithSession(alice);
    const answer = await settled(ref, await ask(alice, ref));
    expect(answer).toMatchObject({ status: 'delivered', content: 'Just do it.', confidence: null });
    expect(answer.aiResponse).toMatchObject({ userExplanation: 'Just do it.', technicalInstruction: '', confidence: null });
  });

  it('an error mid-stream fails the answer with a readable reason, keeping the partial text', async () => {
    ai.enqueue({ tokens: ['Half ', 'an ', 'answer'], failAfter: 2 });
    startWorker();
    const ref = await projectWithSession(alice);
    const answer = await settled(ref, await ask(alice, ref));
    expect(answer.status).toBe('failed');
    expect(answer.content).toBe('Half an');
    expect(String(answer.metadata.error)).toMatch(/AI model/);
  });

  it('a 429 fails the answer saying the model server is busy', async () => {
    ai.enqueue({ status: 429 });
    startWorker();
    const ref = await projectWithSession(alice);
    const answer = await settled(ref, await ask(alice, ref));
    expect(answer.status).toBe('failed');
    expect(answer.metadata.error).toMatch(/busy \(429/);
  });

  it('a hanging model times out and fails the answer', async () => {
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 1500 });
    try {
      ai.enqueue({ tokens: ['Thinking', '...'], holdAfter: 1 });
      startWorker();
      const ref = await projectWithSession(alice);
      const answer = await settled(ref, await ask(alice, ref));
      expect(answer.status).toBe('failed');
      expect(answer.content).toBe('Thinking');
      expect(answer.metadata.error).toMatch(/did not finish within 2 s/);
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });
});

async function streamingWith(ref: SessionRef, question: MessageDTO, text: string): Promise<MessageDTO> {
  let answer: MessageDTO | undefined;
  await waitFor(async () => {
    answer = await answerOf(ref, question);
    return answer?.status === 'streaming' && answer.content === text;
  }, 15_000, `the streaming answer to read "${text}"`);
  return answer!;
}

describe.runIf(process.env.PARLEY_TEST_REDIS === 'cluster')('on a Redis Cluster', () => {
  /** WAIT calls per master since the last reset (INFO commandstats), summed. */
  async function waits(): Promise<number> {
    const infos = await Promise.all(keyspaceNodes(h.redis).map((node) => node.info('commandstats')));
    return infos.reduce((sum, info) => sum + Number(/^cmdstat_wait:calls=(\d+)/m.exec(info)?.[1] ?? 0), 0);
  }

  it("follows every write of an answer with a WAIT for a replica, the job's acknowledgement included", async () => {
    const ref = await projectWithSession(alice);
    const question = await ask(alice, ref);
    const eventsBefore = await h.redis.xlen(keys.events(ref.projectId));
    // Nothing else writes now: every WAIT counted from here is the worker's.
    await Promise.all(keyspaceNodes(h.redis).map((node) => node.config('RESETSTAT')));
    const worker = startWorker();
    expect((await settled(ref, question)).status).toBe('delivered');
    await waitFor(async () => (await h.redis.xlen(keys.aiJobs(ref.projectId))) === 0, 10_000, 'the job acknowledged');
    await worker.close();
    // Each event the answer appended is one write script (created, every flush, finished); besides them
    // the daily quota, the project's concurrency slot and the job's acknowledgement.
    const answerWrites = (await h.redis.xlen(keys.events(ref.projectId))) - eventsBefore;
    expect(answerWrites).toBeGreaterThanOrEqual(2);
    expect(await waits()).toBeGreaterThanOrEqual(answerWrites + 3);
  });
});

describe('stop, retry, verify', () => {
  it('stop keeps the partial text as the delivered answer, marked stopped', async () => {
    ai.enqueue({ tokens: ['Step one. ', 'Step two. ', 'Step three.'], holdAfter: 2 });
    startWorker();
    const ref = await projectWithSession(alice);
    const q = await ask(alice, ref);
    const streaming = await streamingWith(ref, q, 'Step one. Step two.');
    const stopped = await alice.caller.message.stopGeneration({ ...ref, id: streaming.id });
    expect(stopped.id).toBe(streaming.id);
    const answer = await settled(ref, q);
    expect(answer).toMatchObject({ status: 'delivered', content: 'Step one. Step two.', metadata: { stopped: true } });
    // The model call was aborted: its stream is closed, not left hanging.
    await waitFor(() => ai.open() === 0, 5000, 'the model stream to close');
    // Stopping again is harmless.
    expect((await alice.caller.message.stopGeneration({ ...ref, id: streaming.id })).status).toBe('delivered');
  });

  it('retry regenerates a failed answer in place (same message, one answer)', async () => {
    ai.enqueue({ status: 429 });
    startWorker();
    const ref = await projectWithSession(alice);
    const q = await ask(alice, ref);
    const failed = await settled(ref, q);
    expect(failed.status).toBe('failed');
    const retried = await alice.caller.message.retry({ ...ref, id: failed.id });
    expect(retried).toMatchObject({ id: failed.id, seq: failed.seq, status: 'streaming', content: '' });
    // A double click retries once.
    await alice.caller.message.retry({ ...ref, id: failed.id });
    const answer = await settled(ref, q);
    expect(answer).toMatchObject({ id: failed.id, seq: failed.seq, status: 'delivered', confidence: 0.82, metadata: { attempt: 2 } });
    expect(answer.metadata.error).toBeUndefined();
    const messages = await allMessages(alice, ref);
    expect(messages.filter((m) => m.role === 'ai_pm')).toHaveLength(1);
    await expect(alice.caller.message.retry({ ...ref, id: failed.id })).rejects.toThrow(/Only a failed answer/);
    await expect(alice.caller.message.retry({ ...ref, id: q.id })).rejects.toThrow(/not an AI PM answer/);
  });

  it('a member marks an answer verified', async () => {
    startWorker();
    const ref = await projectWithSession(alice);
    const answer = await settled(ref, await ask(alice, ref));
    const verified = await alice.caller.message.verify({ ...ref, id: answer.id });
    expect(verified.metadata.verifiedBy).toMatchObject({ id: alice.id, username: alice.username });
    await expect(alice.caller.message.verify({ ...ref, id: randomUUID() })).rejects.toThrow(/not found/i);
  });

  it('a non-member can neither see nor stop, retry or verify a generation', async () => {
    ai.enqueue({ tokens: ['Secret ', 'plan.'], holdAfter: 1 });
    startWorker();
    const ref = await projectWithSession(alice);
    const q = await ask(alice, ref);
    const streaming = await streamingWith(ref, q, 'Secret');
    const mallory = await h.user();
    await expect(mallory.caller.message.list(ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(mallory.caller.message.stopGeneration({ ...ref, id: streaming.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(mallory.caller.message.retry({ ...ref, id: streaming.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(mallory.caller.message.verify({ ...ref, id: streaming.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await h.redis.sismember(keys.aiStops(ref.projectId), streaming.id)).toBe(0);
    ai.release();
    expect((await settled(ref, q)).status).toBe('delivered');
  });
});

describe('participation and limits', () => {
  it('mention mode answers only messages that mention @pm; off answers none', async () => {
    startWorker();
    const ref = await projectWithSession(alice);
    const s = await alice.caller.session.update({ ...ref, aiPm: 'mention' });
    expect(s.metadata.aiPm).toBe('mention');
    const plain = await ask(alice, ref, 'just chatting');
    const mentioned = await ask(alice, ref, 'hey @pm, plan Friday');
    await settled(ref, mentioned);
    await alice.caller.session.update({ ...ref, aiPm: 'off' });
    const offTopic = await ask(alice, ref, '@pm are you there?');
    expect(await h.redis.xlen(keys.aiJobs(ref.projectId))).toBe(0);
    const ids = (await allMessages(alice, ref)).map((m) => m.id);
    expect(ids).toEqual([plain.id, mentioned.id, answerIdFor(mentioned.id), offTopic.id]);
    await expect(alice.caller.session.update({ ...ref, aiPm: 'sometimes' as 'off' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('over the daily quota the asker gets a clear refusal in the chat and no model call', async () => {
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000, userDailyQuota: 1 });
    try {
      startWorker();
      const bob = await h.user();
      const ref = await projectWithSession(bob);
      await settled(ref, await ask(bob, ref, 'first'), bob);
      const before = ai.requests.length;
      const refusal = await settled(ref, await ask(bob, ref, 'second'), bob);
      expect(refusal).toMatchObject({ role: 'ai_pm', status: 'failed' });
      expect(refusal.metadata.error).toMatch(/Daily AI quota reached/);
      expect(ai.requests.length).toBe(before);
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });

  it('over the project concurrency limit a question is refused in the chat, no model call', async () => {
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000, projectConcurrency: 1 });
    try {
      ai.enqueue({ tokens: ['Long ', 'answer.'], holdAfter: 1 });
      startWorker();
      const ref = await projectWithSession(alice);
      const first = await ask(alice, ref, 'first');
      await streamingWith(ref, first, 'Long');
      const before = ai.requests.length;
      const second = await ask(alice, ref, 'second');
      const refusal = await settled(ref, second);
      expect(refusal.status).toBe('failed');
      expect(refusal.metadata.error).toMatch(/already writing 1 answers/);
      expect(ai.requests.length).toBe(before);
      ai.release();
      expect((await settled(ref, first)).status).toBe('delivered');
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });

  it('a question too big for the prompt budget is refused without a model call', async () => {
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000, contextTokens: 300 });
    try {
      startWorker();
      const ref = await projectWithSession(alice);
      const before = ai.requests.length;
      const refusal = await settled(ref, await ask(alice, ref, 'x'.repeat(4000)));
      expect(refusal.status).toBe('failed');
      expect(refusal.metadata.error).toMatch(/too long for the AI PM/);
      expect(ai.requests.length).toBe(before);
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });
});

describe('a job that cannot be processed', () => {
  it('is given up after repeated reclaims instead of looping forever', async () => {
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 150, sweepMs: 100, timeoutMs: 20_000 });
    try {
      const ref = await projectWithSession(alice);
      const jobs = keys.aiJobs(ref.projectId);
      // A job for a session that does not exist: every attempt to append its answer fails.
      await h.redis.xgroup('CREATE', jobs, 'ai', '0', 'MKSTREAM');
      const question = randomUUID();
      await h.redis.xadd(jobs, '*', 'u', question, 's', randomUUID(), 'q', '1', 'a', alice.id, 'm', answerIdFor(question), 'n', '1');
      const w = startWorker();
      await waitFor(async () => (await h.redis.xlen(jobs)) === 0, 20_000, 'the job to be given up');
      expect(w.stats.failed).toBe(1);
      expect(await scripts.readMessage.run(h.redis, { projectId: ref.projectId, id: answerIdFor(question) })).toBeNull();
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });
});

describe('a worker that shuts down mid-stream', () => {
  it('hands its job back: another worker finishes the same answer without waiting out the claim', async () => {
    // A claim that would take a minute to expire: only the hand-back can make the job claimable now.
    configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 60_000, sweepMs: 200, timeoutMs: 20_000 });
    try {
      ai.enqueue({ tokens: ['Part ', 'one', ' never'], holdAfter: 2 }, { tokens: ['Whole answer.'] });
      const first = startWorker();
      const ref = await projectWithSession(alice);
      const q = await ask(alice, ref);
      await streamingWith(ref, q, 'Part one');
      await first.close();
      const second = startWorker();
      const answer = await settled(ref, q);
      expect(answer).toMatchObject({ status: 'delivered', content: 'Whole answer.' });
      expect(second.stats.reclaimed).toBe(1);
      expect((await allMessages(alice, ref)).filter((m) => m.role === 'ai_pm')).toHaveLength(1);
    } finally {
      configureAi({ baseURL: ai.url, model: 'fake-pm', maxRetries: 0, flushMs: 20, claimIdleMs: 1500, sweepMs: 500, timeoutMs: 20_000 });
    }
  });
});
