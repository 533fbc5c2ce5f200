import 'server-only';
import { createHash } from 'node:crypto';

/**
 * The id of the AI PM's answer to a user message: derived from the question's id (a name-based UUID,
 * version 5 layout), so every worker, every retry and every reclaim of the job names the same answer,
 * and the store's idempotent append can never make a second one.
 */
export function answerIdFor(questionId: string): string {
  const h = createHash('sha1').update(`parley:ai_pm:answer:${questionId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The AI PM as a message author (it is not a user account: no one can sign in as it). */
export const AI_PM_AUTHOR = { id: 'ai_pm', username: 'AI PM' } as const;
