/**
 * The scripted OpenAI-compatible streaming server (scripts/lib/fake-openai.mjs, shared with the
 * benchmark), typed for the tests: SSE chunks then `[DONE]`; a normal answer, slow tokens, a hold or
 * hang, an error mid-stream, an HTTP error status (429).
 */
import { DEFAULT_ANSWER as ANSWER, startFakeOpenAI as start } from '../../../scripts/lib/fake-openai.mjs';

export interface Script {
  /** The answer's text pieces, one SSE chunk each. */
  tokens?: string[];
  /** Pause before each token (slow tokens). */
  delayMs?: number;
  /** After this many tokens, stop sending until release() (never released: a hang). */
  holdAfter?: number;
  /** After this many tokens, drop the connection (an error mid-stream). */
  failAfter?: number;
  /** Answer with this HTTP status and an OpenAI-style error body instead of a stream (e.g. 429). */
  status?: number;
}

export interface RecordedRequest {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  maxTokens: number | null;
  authorization: string | null;
  receivedAt: number;
  firstTokenAt: number | null;
}

export interface FakeOpenAI {
  /** Base URL to give the provider (ends with /v1). */
  url: string;
  requests: RecordedRequest[];
  /** Scripts for the next requests, in order; when none is queued, `fallback` answers. */
  enqueue(...scripts: Script[]): void;
  fallback: Script;
  /** Lets every held stream go on. */
  release(): void;
  /** Streams in progress (a request whose response has not ended). */
  open(): number;
  close(): Promise<void>;
}

export const DEFAULT_ANSWER: string[] = ANSWER;

export const startFakeOpenAI: (opts?: { fallback?: Script; port?: number }) => Promise<FakeOpenAI> = start;
