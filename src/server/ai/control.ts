import 'server-only';
import { decodeMessage, encodeMessage, parseStoredMessage, type StoredMessage } from '~/server/chat/codec';
import type { ChatRepository } from '~/server/chat/store';
import { AppError, toAppError } from '~/server/errors';
import { execReplicated } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import type { MessageDTO } from '~/shared/types';
import { aiEnabled } from './settings';

/**
 * What members do to the AI PM's answers: stop one that is being written, retry one that failed,
 * mark one verified. The routers authorize (membership) and call these.
 */
interface Ctx {
  redis: ScriptedRedis;
  store: ChatRepository;
}

type Ref = { projectId: string; sessionId: string; id: string };

async function readStored(redis: ScriptedRedis, ref: Ref): Promise<{ seq: string; body: string; m: StoredMessage } | null> {
  const found = await scripts.readMessage.run(redis, { projectId: ref.projectId, id: ref.id });
  if (found?.sessionId !== ref.sessionId || found.body === null) return null;
  return { seq: String(found.seq), body: found.body, m: parseStoredMessage(found.body) };
}

async function answerOrThrow(redis: ScriptedRedis, ref: Ref) {
  let found;
  try {
    found = await readStored(redis, ref);
  } catch (err) {
    throw toAppError(err);
  }
  if (!found) throw new AppError('NOT_FOUND', 'Message not found');
  if (found.m.role !== 'ai_pm') throw new AppError('BAD_REQUEST', 'This is not an AI PM answer');
  return found;
}

/**
 * Asks whichever worker writes the answer to stop (pub/sub for a prompt abort, and a stop mark the
 * worker also checks at every write and on reclaim). The worker ends it as delivered with the partial
 * text, marked stopped. An answer that is no longer streaming is returned as it is (stop is idempotent).
 */
export async function stopGeneration(ctx: Ctx, ref: Ref): Promise<MessageDTO> {
  const { seq, body, m } = await answerOrThrow(ctx.redis, ref);
  if (m.status === 'streaming') {
    try {
      // The mark first (it outlives a missed message), on a replica too before the answer says stopped.
      await execReplicated(
        ctx.redis,
        ctx.redis.pipeline().sadd(keys.aiStops(ref.projectId), ref.id).publish(keys.aiStopChannel, `${ref.projectId} ${ref.id}`),
      );
    } catch (err) {
      throw toAppError(err);
    }
  }
  return decodeMessage(ref.projectId, ref.sessionId, Number(seq), body);
}

/**
 * Regenerates a failed answer IN PLACE: the same message goes back to `streaming`, empty, with the
 * next attempt number, and its job is queued again - atomically (one script), so a double click or a
 * race with another member retries once. A retry of an answer that is streaming already returns it.
 */
export async function retryAnswer(ctx: Ctx, ref: Ref): Promise<MessageDTO> {
  if (!aiEnabled()) {
    throw new AppError('PRECONDITION_FAILED', 'The AI PM is off on this server (AI_BASE_URL is not set)');
  }
  for (let i = 0; i < 5; i++) {
    const { seq, body, m } = await answerOrThrow(ctx.redis, ref);
    if (m.status === 'streaming') return decodeMessage(ref.projectId, ref.sessionId, Number(seq), body);
    if (m.status !== 'failed') throw new AppError('BAD_REQUEST', 'Only a failed answer can be retried');
    const questionId = typeof m.metadata?.replyTo === 'string' ? m.metadata.replyTo : null;
    const question = questionId ? await readStored(ctx.redis, { ...ref, id: questionId }) : null;
    if (!question || question.m.deleted) {
      throw new AppError('BAD_REQUEST', 'The question of this answer was deleted');
    }
    const attempt = (typeof m.metadata?.attempt === 'number' ? m.metadata.attempt : 1) + 1;
    const now = new Date().toISOString();
    const { confidence: _c, aiResponse: _a, ...rest } = m;
    const next: StoredMessage = {
      ...rest,
      content: '',
      status: 'streaming',
      metadata: { replyTo: questionId, attempt },
      updatedAt: now,
    };
    const nextBody = encodeMessage(next);
    const pid = ref.projectId;
    const requeued = await ctx.store.requeueAnswer({
      projectId: pid,
      sessionId: ref.sessionId,
      seq: Number(seq),
      expected: body,
      body: nextBody,
      now,
      job: { questionId: question.m.id, questionSeq: Number(question.seq), askerId: question.m.authorId, answerId: ref.id, attempt },
    });
    if (requeued) return decodeMessage(pid, ref.sessionId, Number(seq), nextBody);
  }
  throw new AppError('CONFLICT', 'The answer is changing too fast; please retry');
}

/** Marks a delivered answer verified by this member; every tab shows "Verified by <name>". */
export function verifyAnswer(ctx: Ctx, ref: Ref, user: { id: string; username: string }): Promise<MessageDTO> {
  return ctx.store.changeMessage(ref, 'message.updated', (m) => {
    if (m.role !== 'ai_pm') throw new AppError('BAD_REQUEST', 'This is not an AI PM answer');
    if (m.status !== 'delivered') throw new AppError('BAD_REQUEST', 'Only a finished answer can be verified');
    const verifiedBy = m.metadata?.verifiedBy as { id?: string } | undefined;
    if (verifiedBy?.id === user.id) return m;
    return {
      ...m,
      metadata: { ...m.metadata, verifiedBy: { id: user.id, username: user.username, at: new Date().toISOString() } },
    };
  });
}
