/**
 * Message search: the input schema (form and `message.search`), its limits and the answer's types.
 * Imports zod and nothing else from the app, so either side can use it.
 */
import { z } from 'zod';

export const SEARCH_LIMITS = {
  queryMax: 200,
  /** Words, phrases and exclusions in one query. */
  termsMax: 16,
  pageSizeDefault: 20,
  pageSizeMax: 50,
  /** An opaque cursor is short; anything longer is not one of ours. */
  cursorMax: 200,
} as const;

export const searchSortSchema = z.enum(['newest', 'relevance']);
export type SearchSort = z.infer<typeof searchSortSchema>;

const isoInstant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-03T14:00:00Z' });

export const messageSearchInput = z
  .object({
    /** Omitted: every project the caller is a member of. */
    projectId: z.uuid({ error: 'must be a UUID' }).optional(),
    query: z
      .string()
      .trim()
      .min(1, { error: 'query must not be empty' })
      .max(SEARCH_LIMITS.queryMax, { error: `query must be at most ${SEARCH_LIMITS.queryMax} characters` })
      .refine((s) => !s.includes('\u0000') && s.isWellFormed(), {
        error: 'query must not contain NUL characters or broken Unicode',
      }),
    sessionId: z.uuid({ error: 'must be a UUID' }).optional(),
    /** A username (case-insensitive), as shown on messages. */
    author: z
      .string()
      .trim()
      .min(1, { error: 'author must not be empty' })
      .max(64, { error: 'author must be at most 64 characters' })
      .optional(),
    /** Only messages created strictly before / after this instant. */
    before: isoInstant.optional(),
    after: isoInstant.optional(),
    sort: searchSortSchema.default('newest'),
    limit: z
      .number()
      .int()
      .min(1, { error: 'limit must be at least 1' })
      .max(SEARCH_LIMITS.pageSizeMax, { error: `limit must be at most ${SEARCH_LIMITS.pageSizeMax}` })
      .default(SEARCH_LIMITS.pageSizeDefault),
    /** The previous page's `nextCursor`. */
    cursor: z
      .string()
      .max(SEARCH_LIMITS.cursorMax, { error: 'not a search cursor' })
      .regex(/^[A-Za-z0-9_-]+$/, { error: 'not a search cursor' })
      .nullish(),
  })
  .refine((v) => v.sessionId === undefined || v.projectId !== undefined, {
    error: 'sessionId needs projectId',
    path: ['sessionId'],
  })
  .refine((v) => v.before === undefined || v.after === undefined || Date.parse(v.after) < Date.parse(v.before), {
    error: 'after must be earlier than before',
    path: ['after'],
  });

export type MessageSearchInput = z.input<typeof messageSearchInput>;

/** A piece of a snippet; `hit` pieces are what matched (render them highlighted, as text). */
export interface SnippetPart {
  text: string;
  hit: boolean;
}

export interface SearchHitDTO {
  projectId: string;
  sessionId: string;
  sessionTitle: string;
  seq: number;
  messageId: string;
  authorId: string;
  authorName: string;
  createdAt: string;
  isEdited: boolean;
  snippet: SnippetPart[];
}

export interface SearchPageDTO {
  items: SearchHitDTO[];
  /** Pass back as `cursor` for the next page; null when there is nothing more. */
  nextCursor: string | null;
  /** Which engine answered: PostgreSQL full-text search (durable tier) or the bounded Redis scan. */
  engine: 'postgres' | 'redis-scan';
  /** Redis scan only: how many messages this page looked at (null with PostgreSQL). */
  scanned: number | null;
  /**
   * Set when this page did not look at everything the filters allow, e.g. "Searched the newest 10,000
   * messages": the next page (nextCursor) goes on with older ones. Never silently incomplete.
   */
  notice: string | null;
}
