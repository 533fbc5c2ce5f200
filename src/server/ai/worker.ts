import 'server-only';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { APICallError, RetryError, streamText, type LanguageModel } from 'ai';
import type { Redis } from 'ioredis';
import { decodeMessage, type StoredMessage } from '~/server/chat/codec';
import type { ChatRepository } from '~/server/chat/store';
import { AppError, redisErrorCode } from '~/server/errors';
import { errorFields, logger } from '~/server/log';
import { execReplicated } from '~/server/redis/cluster';
import { AI_JOBS_PATTERN, idInKey, keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import { scanKeys } from '~/server/redis/scan';
import type { MessageDTO } from '~/shared/types';
import { AI_PM_AUTHOR } from './ids';
import { buildPrompt, parseAnswer } from './prompt';
import { aiModel } from './provider';
import { aiSettings, type AiSettings } from './settings';

const log = logger('ai-worker');
const GROUP = 'ai';
/** Reclaims after which a job that keeps failing is given up (its answer fails with a reason). */
const MAX_DELIVERIES = 5;

export interface AiJob {
  questionId: string;
  sessionId: string;
  questionSeq: number;
  askerId: string;
  answerId: string;
  attempt: number;
}

export interface AiWorkerOptions {
  redis: ScriptedRedis;
  /** The store facade (with the durable tier when it is on), so the answer reaches PostgreSQL too. */
  store: ChatRepository;
  /** A new connection for pub/sub (a subscribed connection can do nothing else). */
  subscriber: () => Redis;
  name?: string;
  /** The model to call; default: the configured OpenAI-compatible one. (Unit tests pass the SDK's mock.) */
  model?: () => LanguageModel;
}

export interface AiWorkerStats {
  answered: number;
  failed: number;
  stopped: number;
  refused: number;
  reclaimed: number;
  /** Text deltas received from the model, and writes of the growing answer (one event each). */
  tokens: number;
  flushes: number;
}

type EndReason = 'stop' | 'timeout' | 'lost' | 'shutdown';

interface Running {
  ctl: AbortController;
  reason: EndReason | null;
  /** Where its job is: handed back on close. */
  pid: string;
  entryId: string;
}

/** The answer is no longer this worker's to write (another worker took the job over, or it ended). */
class NotMine extends Error {
  constructor() {
    super('the answer is no longer this worker’s');
  }
}

/**
 * The AI PM worker: claims reply jobs from the projects' job streams (consumer group `ai`), writes the
 * answer through the store's idempotent append (its id derived from the question's), streams the
 * model's text into it with batched `message.updated` writes, and finishes it once.
 *
 * Jobs are found three ways: a wake-up published by the script that queued the job, a periodic sweep
 * (SCAN of the job streams: wake-ups lost while no worker listened), and XAUTOCLAIM of entries a dead
 * worker held longer than claimIdleMs (a live worker renews its claim while it writes). Every write of
 * the answer checks an owner token in its metadata, so a worker that lost its job to a reclaim stops
 * writing instead of interleaving its text with the new owner's.
 */
export class AiWorker {
  readonly name: string;
  readonly stats: AiWorkerStats = { answered: 0, failed: 0, stopped: 0, refused: 0, reclaimed: 0, tokens: 0, flushes: 0 };
  private sub: Redis | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly running = new Map<string, Running>();
  private readonly draining = new Map<string, boolean>();
  private readonly tasks = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly o: AiWorkerOptions) {
    this.name = o.name ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  async start(): Promise<void> {
    const sub = this.o.subscriber();
    this.sub = sub;
    sub.on('message', (channel: string, message: string) => {
      if (channel === keys.aiWakeChannel) this.drain(message);
      else if (channel === keys.aiStopChannel) {
        const [, answerId] = message.split(' ');
        const run = answerId ? this.running.get(answerId) : undefined;
        if (run) this.end(run, 'stop');
      }
    });
    await sub.subscribe(keys.aiWakeChannel, keys.aiStopChannel);
    this.sweepTimer = setInterval(() => void this.sweep(), aiSettings().sweepMs);
    this.sweepTimer.unref();
    void this.sweep();
    log.info({ worker: this.name }, 'AI PM worker started');
  }

  /**
   * Stops taking jobs. Answers being written are left unfinished and their jobs handed back: marked
   * idle for claimIdleMs already, so another worker's next sweep takes them over at once instead of
   * waiting out the claim (a crash cannot do this; then the claim expires).
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sub?.disconnect();
    const handed = [...this.running.values()];
    for (const run of handed) this.end(run, 'shutdown');
    await Promise.allSettled([...this.tasks]);
    const idle = aiSettings().claimIdleMs;
    await Promise.allSettled(
      handed.map((run) => this.o.redis.xclaim(keys.aiJobs(run.pid), GROUP, this.name, 0, run.entryId, 'IDLE', idle, 'JUSTID')),
    );
  }

  /** Looks at every project's job stream (new jobs and ones a dead worker left). */
  async sweep(): Promise<void> {
    if (this.closed) return;
    try {
      for await (const key of scanKeys(this.o.redis, AI_JOBS_PATTERN, 'stream')) {
        const pid = idInKey(keys.aiJobs, key);
        if (pid) this.drain(pid);
      }
    } catch (err) {
      log.warn({ worker: this.name, ...errorFields(err) }, 'AI job sweep failed; the next one retries');
    }
  }

  /** Reads a project's claimable jobs and starts each; one drain per project at a time (re-run if asked meanwhile). */
  drain(pid: string): void {
    if (this.closed) return;
    if (this.draining.has(pid)) {
      this.draining.set(pid, true);
      return;
    }
    this.draining.set(pid, false);
    const task = (async () => {
      do {
        this.draining.set(pid, false);
        await this.claimStale(pid);
        await this.readNew(pid);
      } while (this.draining.get(pid) && !this.closed);
    })()
      .catch((err: unknown) => {
        if (redisErrorCode(err) === 'NOGROUP') return;
        log.warn({ worker: this.name, projectId: pid, ...errorFields(err) }, 'reading AI jobs failed; the sweep retries');
      })
      .finally(() => this.draining.delete(pid));
    this.track(task);
  }

  private async readNew(pid: string): Promise<void> {
    for (;;) {
      const reply = (await this.o.redis.xreadgroup(
        'GROUP', GROUP, this.name, 'COUNT', 16, 'STREAMS', keys.aiJobs(pid), '>',
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      for (const [id, fields] of entries) this.spawn(pid, id, fields, false);
    }
  }

  private async claimStale(pid: string): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.o.redis.xautoclaim(
        keys.aiJobs(pid), GROUP, this.name, aiSettings().claimIdleMs, cursor, 'COUNT', 16,
      )) as [string, ([string, string[]] | null)[]];
      for (const entry of entries) {
        if (!entry) continue;
        if (await this.deliveredTooOften(pid, entry[0])) await this.giveUp(pid, entry[0], entry[1]);
        else this.spawn(pid, entry[0], entry[1], true);
      }
      cursor = next;
    } while (cursor !== '0-0');
  }

  /**
   * A job reclaimed this many times is not waiting for a dead worker: processing it fails every time
   * (a bug, or data it cannot handle). Such jobs are given up instead of retried forever.
   */
  private async deliveredTooOften(pid: string, entryId: string): Promise<boolean> {
    const pending = (await this.o.redis.xpending(keys.aiJobs(pid), GROUP, 'IDLE', 0, entryId, entryId, 1)) as [string, string, number, number][];
    return (pending[0]?.[3] ?? 0) > MAX_DELIVERIES;
  }

  /** Ends a job that cannot be processed: its answer (if still streaming) fails with a reason, the job goes. */
  private async giveUp(pid: string, entryId: string, fields: string[]): Promise<void> {
    const job = parseJob(fields);
    if (this.running.has(job.answerId)) return;
    log.error({ worker: this.name, projectId: pid, answerId: job.answerId }, `AI job failed ${MAX_DELIVERIES} times; giving up`);
    const existing = await this.read(pid, job.answerId);
    if (existing?.status === 'streaming' && attemptOf(existing) === job.attempt) {
      await this.o.store
        .changeMessage({ projectId: pid, sessionId: existing.sessionId, id: job.answerId }, 'message.updated', (m) => {
          if (m.status !== 'streaming' || attemptOf(m) !== job.attempt) throw new NotMine();
          const { owner: _owner, ...metadata } = m.metadata ?? {};
          return { ...m, status: 'failed', metadata: { ...metadata, error: 'The AI PM could not finish this answer. Press Retry.' } };
        })
        .catch((err: unknown) => {
          if (!isNotMine(err)) throw err;
        });
    }
    await execReplicated(this.o.redis, this.o.redis.pipeline().xack(keys.aiJobs(pid), GROUP, entryId).xdel(keys.aiJobs(pid), entryId));
    this.stats.failed++;
  }

  private spawn(pid: string, entryId: string, fields: string[], reclaimed: boolean): void {
    const job = parseJob(fields);
    if (this.running.has(job.answerId)) return; // this process is writing it (a renewed claim)
    if (reclaimed) this.stats.reclaimed++;
    const run: Running = { ctl: new AbortController(), reason: null, pid, entryId };
    this.running.set(job.answerId, run);
    this.track(this.process(pid, entryId, job, run).finally(() => this.running.delete(job.answerId)));
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private end(run: Running, reason: EndReason): void {
    if (run.reason) return;
    run.reason = reason;
    run.ctl.abort(new Error(`AI generation ended: ${reason}`));
  }

  private async process(pid: string, entryId: string, job: AiJob, run: Running): Promise<void> {
    const s = aiSettings();
    const jobs = keys.aiJobs(pid);
    // Renew the claim while writing (a live worker's job is never reclaimed), and the project slot.
    const heartbeat = setInterval(() => {
      void this.o.redis
        .xclaim(jobs, GROUP, this.name, 0, entryId, 'JUSTID')
        .then((ids) => {
          if (ids.length === 0) this.end(run, 'lost');
        })
        .catch(() => undefined);
      void this.o.redis.zadd(keys.aiRunning(pid), 'XX', Date.now() + 3 * s.claimIdleMs, job.answerId).catch(() => undefined);
    }, Math.max(50, Math.floor(s.claimIdleMs / 3)));
    heartbeat.unref();
    try {
      const done = await this.answer(pid, job, run, s);
      if (done) {
        await execReplicated(
          this.o.redis,
          this.o.redis.pipeline().xack(jobs, GROUP, entryId).xdel(jobs, entryId).srem(keys.aiStops(pid), job.answerId),
        );
      }
    } catch (err) {
      // Left pending: the claim expires and a worker (maybe this one) reclaims and finishes it.
      log.error({ worker: this.name, projectId: pid, answerId: job.answerId, ...errorFields(err) }, 'AI job failed; it will be reclaimed');
    } finally {
      clearInterval(heartbeat);
      await this.o.redis.zrem(keys.aiRunning(pid), job.answerId).catch(() => undefined);
    }
  }

  /** Writes the answer. Returns true when the job is finished (ack it), false when it is not ours to finish. */
  private async answer(pid: string, job: AiJob, run: Running, s: AiSettings): Promise<boolean> {
    const redis = this.o.redis;
    const ref = { projectId: pid, sessionId: job.sessionId, id: job.answerId };
    const existing = await this.read(pid, job.answerId);
    if (existing) {
      const attempt = attemptOf(existing);
      // Finished already (a duplicate or stale job): it finishes once.
      if (job.attempt < attempt || (job.attempt === attempt && existing.status !== 'streaming')) return true;
    }
    const question = await this.read(pid, job.questionId);
    const token = `${this.name}:${randomUUID()}`;

    // A stop asked before anyone wrote (e.g. while its worker was dead): end it as it is, no model call.
    if ((await redis.sismember(keys.aiStops(pid), job.answerId)) === 1) {
      if (!existing) await this.create(pid, job, token);
      else await this.takeOver(ref, job, token, { keepContent: true });
      return this.finish(ref, token, { status: 'delivered', stopped: true }).then(() => {
        this.stats.stopped++;
        return true;
      });
    }

    if (!existing) await this.create(pid, job, token);
    else if (!(await this.takeOver(ref, job, token, { keepContent: false }))) return true;

    const refuse = async (reason: string) => {
      this.stats.refused++;
      await this.finish(ref, token, { status: 'failed', error: reason });
      return true;
    };
    if (!question || question.deleted) return refuse('The question was deleted before the AI PM could answer it.');

    // Limits, cheapest first; over one = a readable refusal in the chat and no model call.
    const [project, session, page] = await Promise.all([
      this.o.store.getProject(pid),
      this.o.store.getSession(pid, job.sessionId),
      this.o.store.listMessages({ projectId: pid, sessionId: job.sessionId, limit: 100, cursor: question.seq + 1 }),
    ]);
    const prompt = buildPrompt(
      {
        projectName: project.project.name,
        sessionTitle: session.title,
        sessionDescription: session.description,
        history: page.items,
        question,
      },
      s.contextTokens,
    );
    if (!prompt.ok) {
      return refuse(`The message is too long for the AI PM (about ${prompt.tokens} tokens with its instructions; the limit is ${s.contextTokens}).`);
    }
    if (s.userDailyQuota > 0) {
      const day = new Date().toISOString().slice(0, 10);
      const ok = await scripts.aiTakeQuota.run(redis, { userId: job.askerId, day, answerId: job.answerId, quota: s.userDailyQuota, ttlSeconds: 2 * 86_400 });
      if (!ok) {
        return refuse(`Daily AI quota reached: ${question.authorName} has asked for ${s.userDailyQuota} AI answers today (UTC). It resets at midnight UTC.`);
      }
    }
    const slot = await scripts.aiAcquireSlot.run(redis, { projectId: pid, answerId: job.answerId, now: Date.now(), leaseMs: 3 * s.claimIdleMs, limit: s.projectConcurrency });
    if (!slot) {
      return refuse(`The AI PM is already writing ${s.projectConcurrency} answers in this project. Press Retry in a moment.`);
    }

    return this.generate(pid, ref, job, run, s, token, prompt);
  }

  private async generate(
    pid: string,
    ref: { projectId: string; sessionId: string; id: string },
    job: AiJob,
    run: Running,
    s: AiSettings,
    token: string,
    prompt: Extract<ReturnType<typeof buildPrompt>, { ok: true }>,
  ): Promise<boolean> {
    const started = performance.now();
    let text = '';
    let written = '';
    let lastFlush = 0;
    let error: unknown = null;
    let usage: { inputTokens: number | undefined; outputTokens: number | undefined } | null = null;
    const timer = setTimeout(() => this.end(run, 'timeout'), s.timeoutMs);
    timer.unref();

    // Writes are serialized; a token that arrives within flushMs of the last write is written by a
    // trailing timer instead (so a model that pauses still shows everything it sent).
    let chain: Promise<void> = Promise.resolve();
    let trailing: NodeJS.Timeout | null = null;
    const schedule = () => {
      const wait = s.flushMs - (performance.now() - lastFlush);
      if (wait <= 0) {
        if (trailing) clearTimeout(trailing);
        trailing = null;
        lastFlush = performance.now();
        chain = chain.then(write);
      } else {
        trailing ??= setTimeout(() => {
          trailing = null;
          lastFlush = performance.now();
          chain = chain.then(write);
        }, wait);
      }
    };
    const write = async () => {
      if (run.reason) return;
      const display = parseAnswer(text).display;
      if (display === written) return;
      try {
        await this.o.store.changeMessage(ref, 'message.updated', (m) => {
          assertMine(m, token);
          return { ...m, content: display };
        });
        written = display;
        // The stop mark is read every 10th write (about once a second): the pub/sub message is the
        // prompt path; this covers one published while this worker's subscriber was reconnecting.
        if (++this.stats.flushes % 10 === 0 && (await this.o.redis.sismember(keys.aiStops(pid), job.answerId)) === 1) {
          this.end(run, 'stop');
        }
      } catch (err) {
        if (isNotMine(err)) this.end(run, 'lost');
        // Any other failure (a Redis blip): the next write or the final one carries the text.
        else log.warn({ worker: this.name, answerId: job.answerId, ...errorFields(err) }, 'could not write the streaming answer');
      }
    };

    try {
      const result = streamText({
        model: (this.o.model ?? (() => aiModel(s)))(),
        system: prompt.system,
        messages: prompt.messages,
        maxOutputTokens: s.maxOutputTokens,
        maxRetries: s.maxRetries,
        abortSignal: run.ctl.signal,
        // Errors arrive as `error` parts below and end the answer as failed (logged once, without
        // the request body); the SDK's default handler would print each one to the console.
        onError: () => undefined,
      });
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta') {
          text += part.text;
          this.stats.tokens++;
          schedule();
          // Back-pressure: never more than one write in flight behind the model.
          await chain;
        } else if (part.type === 'error') {
          error = part.error;
        } else if (part.type === 'finish') {
          usage = part.totalUsage;
        }
      }
    } catch (err) {
      if (!run.ctl.signal.aborted) error = err;
    } finally {
      clearTimeout(timer);
      if (trailing) clearTimeout(trailing);
      await chain;
    }

    const reason = run.reason;
    if (reason === 'lost' || reason === 'shutdown') return false;
    const parsed = parseAnswer(text);
    const aiResponse = {
      userExplanation: parsed.userExplanation,
      technicalInstruction: parsed.technicalInstruction,
      confidence: parsed.confidence,
      model: s.model,
      promptTokens: usage?.inputTokens ?? null,
      completionTokens: usage?.outputTokens ?? null,
      latencyMs: Math.round(performance.now() - started),
    };
    try {
      if (reason === 'stop') {
        await this.finish(ref, token, { status: 'delivered', stopped: true, text: parsed.display, aiResponse, confidence: parsed.confidence });
        this.stats.stopped++;
      } else if (reason === 'timeout') {
        await this.finish(ref, token, { status: 'failed', text: parsed.display, error: `The AI model did not finish within ${Math.round(s.timeoutMs / 1000)} s.` });
        this.stats.failed++;
      } else if (error) {
        log.warn({ worker: this.name, answerId: job.answerId, ...errorFields(error) }, 'AI model call failed');
        await this.finish(ref, token, { status: 'failed', text: parsed.display, error: describeModelError(error) });
        this.stats.failed++;
      } else if (parsed.display === '') {
        await this.finish(ref, token, { status: 'failed', error: 'The AI model returned an empty answer.' });
        this.stats.failed++;
      } else {
        await this.finish(ref, token, { status: 'delivered', text: parsed.display, aiResponse, confidence: parsed.confidence });
        this.stats.answered++;
      }
    } catch (err) {
      if (isNotMine(err)) return false;
      throw err;
    }
    return true;
  }

  /** Appends the answer, `streaming` and empty, owned by `token` (idempotent: the id is derived). */
  private async create(pid: string, job: AiJob, token: string): Promise<void> {
    const { created } = await this.o.store.appendMessage({
      projectId: pid,
      sessionId: job.sessionId,
      id: job.answerId,
      content: '',
      author: AI_PM_AUTHOR,
      role: 'ai_pm',
      status: 'streaming',
      metadata: { replyTo: job.questionId, attempt: job.attempt, owner: token },
    });
    if (!created) await this.takeOver({ projectId: pid, sessionId: job.sessionId, id: job.answerId }, job, token, { keepContent: false });
  }

  /**
   * Makes `token` the answer's owner (a reclaimed or retried job), restarting its text unless asked to
   * keep it. False when the answer is finished or belongs to a newer attempt (nothing to do).
   */
  private async takeOver(
    ref: { projectId: string; sessionId: string; id: string },
    job: AiJob,
    token: string,
    opts: { keepContent: boolean },
  ): Promise<boolean> {
    try {
      await this.o.store.changeMessage(ref, 'message.updated', (m) => {
        if (m.status !== 'streaming' || attemptOf(m) !== job.attempt) throw new NotMine();
        const metadata = { ...m.metadata, attempt: job.attempt, owner: token };
        return { ...m, content: opts.keepContent ? m.content : '', metadata };
      });
      return true;
    } catch (err) {
      if (isNotMine(err)) return false;
      throw err;
    }
  }

  /** The one final write: status, text, structured parts; only by the answer's owner, only once. */
  private async finish(
    ref: { projectId: string; sessionId: string; id: string },
    token: string,
    end: {
      status: 'delivered' | 'failed';
      text?: string;
      stopped?: boolean;
      error?: string;
      aiResponse?: Record<string, unknown>;
      confidence?: number | null;
    },
  ): Promise<void> {
    await this.o.store.changeMessage(ref, 'message.updated', (m) => {
      assertMine(m, token);
      const { owner: _owner, error: _error, stopped: _stopped, ...rest } = m.metadata ?? {};
      const metadata: Record<string, unknown> = { ...rest };
      if (end.stopped) metadata.stopped = true;
      if (end.error) metadata.error = end.error;
      const { confidence: _c, aiResponse: _a, ...base } = m;
      const next: StoredMessage = { ...base, status: end.status, content: end.text ?? m.content, metadata };
      if (end.aiResponse) next.aiResponse = end.aiResponse;
      if (typeof end.confidence === 'number') next.confidence = end.confidence;
      return next;
    });
  }

  /** A message of the project by id, straight from Redis (null when absent). */
  private async read(pid: string, id: string): Promise<MessageDTO | null> {
    const found = await scripts.readMessage.run(this.o.redis, { projectId: pid, id });
    return found?.body ? decodeMessage(pid, found.sessionId, found.seq, found.body) : null;
  }
}

function parseJob(fields: string[]): AiJob {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return {
    questionId: f.u ?? '',
    sessionId: f.s ?? '',
    questionSeq: Number(f.q),
    askerId: f.a ?? '',
    answerId: f.m ?? '',
    attempt: Number(f.n ?? 1),
  };
}

function attemptOf(m: { metadata?: Record<string, unknown> | undefined }): number {
  const a = m.metadata?.attempt;
  return typeof a === 'number' ? a : 1;
}

function assertMine(m: StoredMessage, token: string): void {
  if (m.status !== 'streaming' || m.metadata?.owner !== token) throw new NotMine();
}

function isNotMine(err: unknown): boolean {
  return err instanceof NotMine || (err instanceof AppError && err.cause instanceof NotMine);
}

/** A model failure in words a chat member understands (no stack, no internals). */
export function describeModelError(err: unknown): string {
  const last = RetryError.isInstance(err) ? err.lastError : err;
  if (APICallError.isInstance(last)) {
    const status = last.statusCode;
    if (status === 429) return 'The AI model server is busy (429 Too Many Requests). Press Retry in a moment.';
    if (status === 401 || status === 403) return `The AI model server refused the request (${status}): check AI_API_KEY.`;
    if (status === 404) return 'The AI model server does not know this model (404): check AI_MODEL.';
    if (status !== undefined) return `The AI model server answered with an error (${status}).`;
    return 'The AI model server could not be reached.';
  }
  const message = last instanceof Error ? last.message : String(last);
  return `The AI model failed: ${message.slice(0, 200)}`;
}
