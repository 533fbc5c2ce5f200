import 'server-only';
import type { AuthedUser } from '~/server/auth/service';
import { decodeMessage } from '~/server/chat/codec';
import type { Services } from '~/server/context';
import { env } from '~/server/env';
import { AppError, projectNotFound, toAppError } from '~/server/errors';
import { pipelineBySlot } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import type { messageSearchInput, SearchHitDTO, SearchPageDTO } from '~/shared/search';
import type { z } from 'zod';
import { searchPostgres } from './postgres';
import { parseQuery, positiveTerms } from './query';
import { scanProject, type ScanHit, type ScanResult } from './redis-scan';
import { snippetFromText } from './snippet';

/**
 * `message.search`: members only (a project the caller is not in is NOT_FOUND; without a projectId,
 * every project the caller is a member of), deleted messages never, edited ones by their current text.
 * With the durable tier PostgreSQL answers (full-text search); without it, a bounded scan of Redis.
 */
export type SearchInput = z.output<typeof messageSearchInput>;

export interface SearchDeps {
  redis: Services['redis'];
  store: Services['store'];
  durable: Services['durable'];
}

export interface SearchSettings {
  language: string;
  scanMaxMessages: number;
}

const defaults = (): SearchSettings => ({ language: env.SEARCH_LANGUAGE, scanMaxMessages: env.SEARCH_SCAN_MAX_MESSAGES });

export async function searchMessages(
  deps: SearchDeps,
  user: AuthedUser,
  input: SearchInput,
  settings: SearchSettings = defaults(),
): Promise<SearchPageDTO> {
  const parsed = parseQuery(input.query);
  const cursor = decodeCursor(input.cursor);
  let projectIds: string[];
  if (input.projectId) {
    if (!(await deps.store.isMember(input.projectId, user.id))) throw projectNotFound();
    projectIds = [input.projectId];
  } else {
    projectIds = (await deps.store.listProjectsFor(user.id)).map((p) => p.id);
  }
  const before = input.before ? new Date(input.before).toISOString() : undefined;
  const after = input.after ? new Date(input.after).toISOString() : undefined;
  const empty = (engine: SearchPageDTO['engine']): SearchPageDTO => ({
    items: [],
    nextCursor: null,
    engine,
    scanned: engine === 'redis-scan' ? 0 : null,
    notice: null,
  });

  if (deps.durable) {
    if (projectIds.length === 0) return empty('postgres');
    if (cursor && (input.sort === 'newest' ? !('key' in cursor) : !('offset' in cursor))) throw badCursor();
    const r = await searchPostgres(deps.durable.pg.pool, {
      projectIds,
      query: input.query,
      sessionId: input.sessionId,
      author: input.author,
      before,
      after,
      sort: input.sort,
      limit: input.limit,
      cursor,
      language: settings.language,
    });
    return { items: r.items, nextCursor: r.next ? encodeCursor(r.next) : null, engine: 'postgres', scanned: null, notice: null };
  }

  if (projectIds.length === 0) return empty('redis-scan');
  if (cursor && !('key' in cursor)) throw badCursor();
  // Scan keys strictly below both the cursor and `before` (a bare ISO time sorts below its own keys).
  const bounds = [cursor && 'key' in cursor ? cursor.key : '', before ?? ''].filter((k) => k !== '');
  const startKey = bounds.length > 0 ? bounds.reduce((a, b) => (a < b ? a : b)) : '';
  // The budget is per page, shared by the projects searched (each gets at least a few hundred).
  const budget = Math.max(Math.min(500, settings.scanMaxMessages), Math.ceil(settings.scanMaxMessages / projectIds.length));
  let results: ScanResult[];
  try {
    results = await Promise.all(
      projectIds.map((projectId) =>
        scanProject(deps.redis, {
          projectId,
          sessionId: input.sessionId,
          startKey,
          after,
          author: input.author,
          budget,
          limit: input.limit,
          query: parsed,
        }),
      ),
    );
  } catch (err) {
    throw toAppError(err);
  }

  // Every project was searched completely above `boundary` (the highest key where one stopped early),
  // so hits at or above it are final for this page; hits below are found again by the next page.
  const boundary = results.filter((r) => r.reason !== 'done').reduce((max, r) => (r.stopKey > max ? r.stopKey : max), '');
  let hits: ScanHit[] = results.flatMap((r) => r.hits).filter((h) => h.key >= boundary);
  hits.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  let nextKey = boundary;
  if (hits.length > input.limit) {
    hits = hits.slice(0, input.limit);
    nextKey = hits[hits.length - 1]!.key;
  }
  // Relevance without an index ranks within the page (pages themselves go newest first).
  if (input.sort === 'relevance') hits.sort((a, b) => b.score - a.score || (a.key < b.key ? 1 : -1));

  const titles = await sessionTitles(deps.redis, hits);
  const terms = positiveTerms(parsed);
  const items = hits.map((h): SearchHitDTO => {
    const m = decodeMessage(h.projectId, h.sessionId, h.seq, h.body);
    return {
      projectId: h.projectId,
      sessionId: h.sessionId,
      sessionTitle: titles.get(`${h.projectId}/${h.sessionId}`) ?? '',
      seq: h.seq,
      messageId: m.id,
      authorId: m.authorId,
      authorName: m.authorName,
      createdAt: m.createdAt,
      isEdited: m.isEdited,
      snippet: snippetFromText(m.content, terms),
    };
  });
  const scanned = results.reduce((n, r) => n + r.scanned, 0);
  const budgetHit = results.some((r) => r.reason === 'budget');
  return {
    items,
    nextCursor: nextKey ? encodeCursor({ key: nextKey }) : null,
    engine: 'redis-scan',
    scanned,
    notice: budgetHit
      ? `Searched the newest ${scanned.toLocaleString('en-US')} messages${projectIds.length > 1 ? ` of ${projectIds.length} projects` : ''}` +
        ` (at most ${budget.toLocaleString('en-US')} per project at a time). Older messages are not searched yet: search further to go on.`
      : null,
  };
}

async function sessionTitles(redis: SearchDeps['redis'], hits: ScanHit[]): Promise<Map<string, string>> {
  const wanted = [...new Map(hits.map((h) => [`${h.projectId}/${h.sessionId}`, h])).values()];
  const titles = new Map<string, string>();
  if (wanted.length === 0) return titles;
  const replies = await pipelineBySlot(redis, wanted, (p, h) => p.hget(keys.session(h.projectId, h.sessionId), 'title'));
  replies.forEach(([err, title], i) => {
    if (err) throw toAppError(err);
    const h = wanted[i]!;
    if (typeof title === 'string') titles.set(`${h.projectId}/${h.sessionId}`, title);
  });
  return titles;
}

type Cursor = { key: string } | { offset: number };

// <createdAt>|<session uuid>|<seq, 10 digits> (createdAt as stored: an ISO date-time).
const KEY_SHAPE = /^([^|]{10,40})\|[0-9a-f-]{36}\|\d{10}$/;

function encodeCursor(c: Cursor): string {
  return Buffer.from('key' in c ? `k${c.key}` : `o${c.offset}`, 'utf8').toString('base64url');
}

function decodeCursor(raw: string | null | undefined): Cursor | null {
  if (!raw) return null;
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const key = KEY_SHAPE.exec(text.slice(1));
  if (text.startsWith('k') && key && !Number.isNaN(Date.parse(key[1]!))) return { key: text.slice(1) };
  if (/^o\d{1,6}$/.test(text)) return { offset: Number(text.slice(1)) };
  throw badCursor();
}

const badCursor = () => new AppError('BAD_REQUEST', 'cursor: not a cursor of this search (start again without one)');
