import 'server-only';
import type { ModelMessage } from 'ai';
import type { MessageDTO } from '~/shared/types';

/**
 * What the AI PM is told, and how its free-text answer is read back.
 *
 * The answer streams as free text the members watch. The seed's structured parts come from the SAME
 * text: the model ends with a "## Technical instruction" section and a last "Confidence: 0.x" line,
 * which parseAnswer splits off. One model call, no second round trip and no schema the smaller local
 * models ignore; parsing is a couple of regexes (well under a millisecond). A model that leaves the
 * parts out still gives an answer: the whole text is the user explanation and the confidence is null
 * (the UI then shows no score, and the answer counts as unverified).
 */
export const SYSTEM_PROMPT = `You are the AI project manager of a software team, taking part in the team's chat.
Help the team plan and deliver: break work into steps, point out risks and dependencies, propose next steps with owners and dates when you can, and ask clarifying questions when the request is ambiguous or you lack information. Be concise and concrete; use Markdown lists.
Always answer in this shape:
1. Your answer for the team (plain language).
2. A section that starts with the line "## Technical instruction" with precise instructions for the engineers (or "None.").
3. A final line "Confidence: <a number from 0 to 1>" saying how sure you are of your answer.`;

/** A rough token count (about 4 characters a token for English text): good enough for a budget. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export interface PromptContext {
  projectName: string;
  sessionTitle: string;
  sessionDescription: string | null;
  /** The session's messages up to and including the question, oldest first. */
  history: MessageDTO[];
  question: MessageDTO;
}

export type BuiltPrompt =
  | { ok: true; system: string; messages: ModelMessage[]; tokens: number }
  | { ok: false; tokens: number };

/**
 * The system prompt with the project context, then as many of the newest messages as fit the token
 * budget (the question always; older ones dropped first). Not ok when the question alone is too big.
 */
export function buildPrompt(ctx: PromptContext, budgetTokens: number): BuiltPrompt {
  const system = [
    SYSTEM_PROMPT,
    '',
    `Project: ${ctx.projectName}`,
    `Chat session: ${ctx.sessionTitle}`,
    ...(ctx.sessionDescription ? [`Session description: ${ctx.sessionDescription}`] : []),
  ].join('\n');
  const textOf = (m: MessageDTO) => (m.role === 'ai_pm' ? m.content : `${m.authorName}: ${m.content}`);
  const turn = (m: MessageDTO): ModelMessage =>
    m.role === 'ai_pm' ? { role: 'assistant', content: textOf(m) } : { role: 'user', content: textOf(m) };
  const asked = turn(ctx.question);
  let tokens = estimateTokens(system) + estimateTokens(textOf(ctx.question));
  if (tokens > budgetTokens) return { ok: false, tokens };
  const earlier: ModelMessage[] = [];
  for (let i = ctx.history.length - 1; i >= 0; i--) {
    const m = ctx.history[i]!;
    if (m.id === ctx.question.id || m.seq > ctx.question.seq) continue;
    if (m.deleted || m.content.trim() === '' || (m.role === 'ai_pm' && m.status !== 'delivered')) continue;
    const t = estimateTokens(m.content) + 4;
    if (tokens + t > budgetTokens) break;
    tokens += t;
    earlier.unshift(turn(m));
  }
  return { ok: true, system, messages: [...earlier, asked], tokens };
}

export interface ParsedAnswer {
  /** What the members see: the answer without the confidence line. */
  display: string;
  userExplanation: string;
  technicalInstruction: string;
  confidence: number | null;
}

const CONFIDENCE_LINE = /^[ \t>*_-]*confidence[ \t*_]*[:=][ \t*_]*([0-9]+(?:\.[0-9]+)?)[ \t]*(%?)[ \t*_.]*$/gim;
const TECHNICAL_HEADING = /^[ \t]*(?:#{1,6}[ \t]*|\*\*)?technical instructions?(?:\*\*)?[ \t]*:?[ \t]*(?:\*\*)?[ \t]*$/im;

/** Splits a (possibly partial) answer text into the seed's parts. Never throws. */
export function parseAnswer(text: string): ParsedAnswer {
  let confidence: number | null = null;
  const matches = [...text.matchAll(CONFIDENCE_LINE)];
  const last = matches.at(-1);
  let display = text;
  if (last) {
    const raw = Number(last[1]) / (last[2] === '%' || Number(last[1]) > 1 ? 100 : 1);
    confidence = Number.isFinite(raw) && raw >= 0 && raw <= 1 ? Math.round(raw * 100) / 100 : null;
    display = (text.slice(0, last.index) + text.slice(last.index + last[0].length)).trimEnd();
  }
  const heading = TECHNICAL_HEADING.exec(display);
  const userExplanation = (heading ? display.slice(0, heading.index) : display).trim();
  const technicalInstruction = heading ? display.slice(heading.index + heading[0].length).trim() : '';
  return { display: display.trim(), userExplanation, technicalInstruction, confidence };
}
