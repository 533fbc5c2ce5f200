/**
 * Zod schemas shared by the forms (client) and the procedures' `.input()` (server).
 * This module imports zod and nothing else from the app, so either side can use it.
 */
import { z } from 'zod';
import { AI_PM_MODES } from './ai';
import { parseEventId } from './event-id';
import { LIMITS } from './limits';

// In the browser zod must not compile parsers with `new Function`: the Content-Security-Policy has no
// 'unsafe-eval' (src/proxy.ts), and even zod's probe for it is reported as a violation. The server
// keeps the faster compiled parsers. Every schema the browser parses comes from this module, so this
// runs before any of them.
if (typeof window !== 'undefined') z.config({ jitless: true });

/** Ids minted by the server (projects, sessions, users) and messages minted by the client. */
export const idSchema = z.uuid({ error: 'must be a UUID' });

/**
 * THE schema for text a user writes (names, titles, descriptions, message content, reactions): every
 * such field is built here, so none can forget the storability check. Text must be storable everywhere
 * it goes: PostgreSQL rejects NUL characters and unpaired UTF-16 surrogates, so such text would be
 * acknowledged by Redis and then never persisted (a poison outbox entry, and every later version of
 * its record with it). Refuse it up front.
 * `trim`: stored trimmed (names, titles); otherwise kept as typed and only required to hold something
 * besides whitespace (message content, reactions). `allowEmpty`: an empty value is fine (descriptions).
 */
export function userText(name: string, opts: { max: number; allowEmpty?: boolean; trim?: boolean }) {
  const empty = { error: `${name} must not be empty` };
  const text =
    opts.trim === false
      ? z.string().refine((s) => opts.allowEmpty === true || s.trim().length > 0, empty)
      : opts.allowEmpty === true
        ? z.string().trim()
        : z.string().trim().min(1, empty);
  return text
    .max(opts.max, { error: `${name} must be at most ${opts.max} characters` })
    .refine((s) => !s.includes('\u0000') && s.isWellFormed(), {
      error: `${name} must not contain NUL characters or broken Unicode`,
    });
}

export const usernameSchema = z
  .string()
  .trim()
  .min(LIMITS.usernameMin, { error: `Username must be at least ${LIMITS.usernameMin} characters` })
  .max(LIMITS.usernameMax, { error: `Username must be at most ${LIMITS.usernameMax} characters` })
  .regex(/^[a-zA-Z0-9_.-]+$/, { error: 'Username may use letters, digits, "_", "." and "-" only' });

/**
 * Bounded on both sides before anything hashes it: argon2 over a megabyte-long password would be a
 * denial of service, so zod refuses it in the procedure's input, ahead of the auth service.
 */
export const passwordSchema = z
  .string()
  .min(LIMITS.passwordMin, { error: `Password must be at least ${LIMITS.passwordMin} characters` })
  .max(LIMITS.passwordMax, { error: `Password must be at most ${LIMITS.passwordMax} characters` });

export const credentialsInput = z.object({
  username: usernameSchema,
  password: passwordSchema,
});

export const projectIdInput = z.object({ projectId: idSchema });

export const projectCreateInput = z.object({
  name: userText('Project name', { max: LIMITS.projectNameMax }),
});

/** `project.list`: a page of the caller's projects (no input at all: the first page). */
export const projectListInput = z
  .object({
    limit: z
      .number()
      .int()
      .min(1, { error: 'limit must be at least 1' })
      .max(LIMITS.projectPageMax, { error: `limit must be at most ${LIMITS.projectPageMax}` })
      .default(LIMITS.projectPageDefault),
    /** How many projects earlier pages held (0, the default: the first page). */
    cursor: z.number().int().min(0).nullish(),
  })
  .optional();

export const projectAddMemberInput = z.object({
  projectId: idSchema,
  username: usernameSchema,
});

export const sessionStatusSchema = z.enum(['active', 'archived']);

export const sessionCreateInput = z.object({
  projectId: idSchema,
  title: userText('Title', { max: LIMITS.sessionTitleMax }),
  description: userText('Description', { max: LIMITS.sessionDescriptionMax, allowEmpty: true }).optional(),
});

export const sessionRefInput = z.object({ projectId: idSchema, sessionId: idSchema });

export const sessionUpdateInput = sessionRefInput
  .extend({
    title: userText('Title', { max: LIMITS.sessionTitleMax }).optional(),
    description: userText('Description', { max: LIMITS.sessionDescriptionMax, allowEmpty: true }).optional(),
    status: sessionStatusSchema.optional(),
    /** The AI PM's participation: every message, only messages that mention @pm, or none. */
    aiPm: z.enum(AI_PM_MODES, { error: 'aiPm must be "always", "mention" or "off"' }).optional(),
  })
  .refine(
    (v) => v.title !== undefined || v.description !== undefined || v.status !== undefined || v.aiPm !== undefined,
    { error: 'Nothing to update: give a title, a description, a status or aiPm' },
  );

/** `session.markRead`: the newest seq the user has seen (the marker never moves back). */
export const sessionMarkReadInput = sessionRefInput.extend({
  seq: z.number().int().min(0, { error: 'seq must be at least 0' }).max(Number.MAX_SAFE_INTEGER),
});

/** `project.heartbeat`: the leader tab of a browser says its user is here. */
export const presenceHeartbeatInput = z.object({ projectId: idSchema, state: z.enum(['active', 'idle']) });

/** `session.typing`: the caller started (true) or stopped (false) typing in the session. */
export const sessionTypingInput = sessionRefInput.extend({ typing: z.boolean() });

const pageSize = z
  .number()
  .int()
  .min(1, { error: 'limit must be at least 1' })
  .max(LIMITS.pageSizeMax, { error: `limit must be at most ${LIMITS.pageSizeMax}` });

export const messageListInput = sessionRefInput.extend({
  limit: pageSize.default(LIMITS.pageSizeDefault),
  /** Read messages with seq strictly below this one (the previous page's `nextCursor`). */
  cursor: z.number().int().min(1).nullish(),
});

export const messageContentSchema = userText('Message', { max: LIMITS.messageContentMax, trim: false });

export const messageSendInput = sessionRefInput.extend({
  /** Client-generated; the idempotency key: sending the same id twice stores one message. */
  id: idSchema,
  content: messageContentSchema,
});

export const messageRefInput = sessionRefInput.extend({ id: idSchema });

export const messageEditInput = messageRefInput.extend({ content: messageContentSchema });

/**
 * One emoji: a pictographic character with an optional variation selector or skin-tone modifier,
 * optionally joined (ZWJ) to more such characters (👍, ❤️, 👍🏽, 👩‍💻), or a flag (two regional
 * indicators). Nothing else: no words, no runs of emoji.
 */
const EMOJI_PART = String.raw`\p{Extended_Pictographic}(?:️|\p{Emoji_Modifier})?`;
const EMOJI = new RegExp(String.raw`^(?:${EMOJI_PART}(?:‍${EMOJI_PART})*|\p{Regional_Indicator}{2})$`, 'u');

export const emojiSchema = z
  .string()
  .min(1, { error: 'Reaction must not be empty' })
  .max(LIMITS.reactionMaxLength, { error: `Reaction must be at most ${LIMITS.reactionMaxLength} characters` })
  .regex(EMOJI, { error: 'Reaction must be a single emoji' });

export const messageReactInput = messageRefInput.extend({ emoji: emojiSchema });

export const chatHistoryInput = z.object({
  projectId: idSchema,
  sessionId: idSchema.optional(),
  limit: pageSize.default(LIMITS.pageSizeDefault),
});

/** A stream entry id as Redis prints it: `<ms>-<seq>` (see ./event-id). */
export const streamIdSchema = z.string().refine((id) => parseEventId(id) !== null, { error: 'not an event id' });

export const eventsSubscribeInput = z.object({
  projectId: idSchema,
  lastEventId: streamIdSchema.nullish(),
});
