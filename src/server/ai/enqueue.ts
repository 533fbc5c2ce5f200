import 'server-only';
import type { AiJobArgs } from '~/server/redis/scripts';
import type { Role } from '~/shared/types';
import { AI_PM_MODES, type AiPmMode } from '~/shared/ai';
import { mentionsPm } from '~/shared/mentions';
import { answerIdFor } from './ids';
import { aiEnabled } from './settings';

/** A session's AI PM mode as stored in its metadata (absent: the default). */
export function sessionAiMode(metadata: Record<string, unknown>): AiPmMode {
  const v = metadata.aiPm;
  return typeof v === 'string' && (AI_PM_MODES as readonly string[]).includes(v) ? (v as AiPmMode) : defaultAiMode();
}

/** `always` when a model server is configured, else `off` (the AI PM cannot answer). */
export function defaultAiMode(): AiPmMode {
  return aiEnabled() ? 'always' : 'off';
}

/**
 * What makes the store's append also queue a reply job (scripts.aiAppendWithJob), or null when this message can never get one: not a user's message, or the AI PM is
 * off in this deployment (then no job is ever queued, whatever a session says).
 */
export function aiJobFor(input: {
  projectId: string;
  id: string;
  content: string;
  role?: Role;
  author: { id: string };
}): AiJobArgs | null {
  if ((input.role ?? 'user') !== 'user' || !aiEnabled()) return null;
  return {
    defaultMode: defaultAiMode(),
    mentioned: mentionsPm(input.content),
    askerId: input.author.id,
    answerId: answerIdFor(input.id),
  };
}
