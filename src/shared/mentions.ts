/**
 * @mentions: the ONE parser, used by the server (who is mentioned: counting, in the append and edit
 * path) and by the client (which words to highlight, whether a new message mentions the viewer).
 *
 * A mention is `@` + a username (letters, digits, "_", "." and "-", see usernameSchema) at the start
 * of the text or after a character that cannot be part of a name or an e-mail address; so
 * `ada@example.com` mentions nobody. Trailing "." and "-" end the sentence, not the name (`thanks
 * @ada.`). Code (fenced blocks and `inline code`) mentions nobody: it is shown verbatim.
 * `@pm` is the AI PM (AI_PM_MENTION): never a user, as usernames have at least 3 characters.
 */
import { LIMITS } from './limits';

/** The AI PM's handle (what `mention` mode answers). */
export const AI_PM_MENTION = 'pm';

/** Most distinct users one message can mention (the rest are shown, not counted). */
export const MENTIONS_PER_MESSAGE_MAX = 20;

// `g` regexes are used with matchAll/replace only (no shared lastIndex state).
const MENTION = /(^|[^\w@.-])@([A-Za-z0-9_.-]+)/g;
const CODE = /```[\s\S]*?(?:```|$)|`[^`\n]*`/g;

export interface MentionMatch {
  /** Offset of the `@`. */
  index: number;
  /** Length of `@name`. */
  length: number;
  /** The name as written (case kept). */
  name: string;
}

/** The mentions in plain text (no markdown handling: the renderer passes text nodes only). */
export function findMentions(text: string): MentionMatch[] {
  const out: MentionMatch[] = [];
  for (const m of text.matchAll(MENTION)) {
    const name = m[2]!.replace(/[.-]+$/, '');
    const isPm = name.toLowerCase() === AI_PM_MENTION;
    if (!isPm && (name.length < LIMITS.usernameMin || name.length > LIMITS.usernameMax)) continue;
    out.push({ index: m.index + m[1]!.length, length: name.length + 1, name });
  }
  return out;
}

/**
 * The distinct users a message body mentions, lower-cased (usernames are unique case-insensitively),
 * in order of first mention, at most MENTIONS_PER_MESSAGE_MAX; `@pm` left out.
 */
export function mentionedNames(content: string): string[] {
  const names = new Set<string>();
  for (const m of findMentions(content.replace(CODE, ' '))) {
    const name = m.name.toLowerCase();
    if (name === AI_PM_MENTION) continue;
    names.add(name);
    if (names.size === MENTIONS_PER_MESSAGE_MAX) break;
  }
  return [...names];
}

/** Whether the body mentions the user named `username` (as counted: outside code). */
export function mentionsUser(content: string, username: string): boolean {
  return mentionedNames(content).includes(username.toLowerCase());
}

/** Whether the body mentions the AI PM (`@pm` as a word, outside code). */
export function mentionsPm(content: string): boolean {
  return findMentions(content.replace(CODE, ' ')).some((m) => m.name.toLowerCase() === AI_PM_MENTION);
}
