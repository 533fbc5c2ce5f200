import 'server-only';
import { env } from '~/server/env';

/**
 * The AI PM's settings: env.ts's AI_* variables, which a test (or `npm run worker`) may override for
 * its process. Read through aiSettings() at the moment of use, never copied at import time.
 */
export interface AiSettings {
  /** The OpenAI-compatible server's base URL (…/v1); null: the AI PM is off. */
  baseURL: string | null;
  apiKey: string | undefined;
  model: string;
  maxOutputTokens: number;
  timeoutMs: number;
  maxRetries: number;
  flushMs: number;
  projectConcurrency: number;
  userDailyQuota: number;
  contextTokens: number;
  claimIdleMs: number;
  /** How often a worker looks for jobs nobody announced (a lost wake-up, a dead worker's jobs). */
  sweepMs: number;
}

const globalForAi = globalThis as unknown as { parleyAiOverrides?: Partial<AiSettings> };

export function aiSettings(): AiSettings {
  return {
    baseURL: env.AI_BASE_URL ?? null,
    apiKey: env.AI_API_KEY,
    model: env.AI_MODEL,
    maxOutputTokens: env.AI_MAX_OUTPUT_TOKENS,
    timeoutMs: env.AI_TIMEOUT_MS,
    maxRetries: env.AI_MAX_RETRIES,
    flushMs: env.AI_FLUSH_MS,
    projectConcurrency: env.AI_PROJECT_CONCURRENCY,
    userDailyQuota: env.AI_USER_DAILY_QUOTA,
    contextTokens: env.AI_CONTEXT_TOKENS,
    claimIdleMs: env.AI_CLAIM_IDLE_MS,
    sweepMs: Math.max(1000, Math.min(env.AI_CLAIM_IDLE_MS, 30_000)),
    ...globalForAi.parleyAiOverrides,
  };
}

/** Overrides settings for this process (tests point the AI PM at their own model server). */
export function configureAi(overrides: Partial<AiSettings> | null): void {
  globalForAi.parleyAiOverrides = overrides ?? undefined;
}

/** True when a model server is configured: sessions then have the AI PM by default. */
export function aiEnabled(): boolean {
  return aiSettings().baseURL !== null;
}
