/**
 * The AI PM's shared vocabulary (client and server): participation modes and the confidence below
 * which an answer asks for verification.
 */
export const AI_PM_MODES = ['always', 'mention', 'off'] as const;
export type AiPmMode = (typeof AI_PM_MODES)[number];

/** Answers below this confidence show "Needs verification" (seed 000). */
export const AI_VERIFY_BELOW = 0.7;

/** The AI PM's author id on its messages. */
export const AI_PM_AUTHOR_ID = 'ai_pm';
