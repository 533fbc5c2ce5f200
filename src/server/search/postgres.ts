import 'server-only';
import { query, transaction, type Pool } from '~/server/durable/pg';
import { AppError } from '~/server/errors';
import { errorFields, logger } from '~/server/log';
import type { SearchHitDTO, SearchSort } from '~/shared/search';
import { snippetFromMarked } from './snippet';

/**
 * Search with the durable tier: PostgreSQL full-text search over the `search_tsv` column (kept current
 * by a trigger, see migrations/*_message-search.sql) with its GIN index. The query goes to
 * `websearch_to_tsquery` unchanged, so quotes, `-word` and `or` mean what they mean on the web;
 * `ts_headline` cuts the snippet. Messages reach PostgreSQL through the outbox, so a message is
 * searchable once persisted (normally well under a second after it was sent).
 */
const log = logger('search');

// ts_headline marks hits with these; they are removed from the text first, so they cannot be forged.
const START = '\u0001';
const STOP = '\u0002';
const MARKS = `StartSel=${START}, StopSel=${STOP}`;
// A short message is shown whole; a long one as up to two fragments around its hits.
const SHORT_MESSAGE_CHARS = 200;
/** Matches from which a newest-first search walks the time index instead of sorting its matches. */
const DENSE_MATCHES = 5000;
const HEADLINE_SHORT = `${MARKS}, HighlightAll=true`;
const HEADLINE_LONG = `${MARKS}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "`;

export interface PgSearchOptions {
  projectIds: string[];
  query: string;
  sessionId?: string | undefined;
  author?: string | undefined;
  before?: string | undefined;
  after?: string | undefined;
  sort: SearchSort;
  limit: number;
  /** newest: the scan key of the last hit of the previous page; relevance: how many came before. */
  cursor: { key: string } | { offset: number } | null;
  language: string;
}

export interface PgSearchResult {
  items: SearchHitDTO[];
  next: { key: string } | { offset: number } | null;
}

interface Row {
  project_id: string;
  session_id: string;
  seq: number;
  id: string;
  author_id: string;
  author_name: string;
  created_at: Date;
  is_edited: boolean;
  title: string | null;
  headline: string;
}

export async function searchPostgres(pool: Pool, o: PgSearchOptions): Promise<PgSearchResult> {
  await ensureSearchLanguage(pool, o.language);
  const values: unknown[] = [o.projectIds, o.query, o.language];
  // One project: an equality, so messages_project_recent_idx (project_id, created_at DESC, seq DESC)
  // yields messages in page order and a common word can stop after a page instead of sorting every hit.
  const inProjects = o.projectIds.length === 1 ? 'm.project_id = ($1::uuid[])[1]' : 'm.project_id = ANY($1::uuid[])';
  const where: string[] = [inProjects, 'm.search_tsv @@ q.q', 'NOT m.deleted'];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  if (o.sessionId) where.push(`m.session_id = ${param(o.sessionId)}::uuid`);
  if (o.author) where.push(`lower(m.author_name) = lower(${param(o.author)})`);
  if (o.before) where.push(`m.created_at < ${param(o.before)}::timestamptz`);
  if (o.after) where.push(`m.created_at > ${param(o.after)}::timestamptz`);
  let order: string;
  let offset = 0;
  if (o.sort === 'newest') {
    // The index's order, then the session id for the (rare) same time and seq in two sessions.
    order = 'm.created_at DESC, m.seq DESC, m.session_id DESC';
    if (o.cursor && 'key' in o.cursor) {
      const [at, sid, seq] = o.cursor.key.split('|');
      where.push(`(m.created_at, m.seq, m.session_id) < (${param(at)}::timestamptz, ${param(Number(seq))}::int, ${param(sid)}::uuid)`);
    }
  } else {
    order = 'rank DESC, m.created_at DESC, m.seq DESC, m.session_id DESC';
    if (o.cursor && 'offset' in o.cursor) offset = o.cursor.offset;
  }
  const filter = where.join(' AND ');
  const filterValues = [...values];
  const limitParam = param(o.limit + 1);
  const offsetParam = param(offset);
  // The inner query finds and orders the page; ts_headline (the expensive part) runs only for the
  // page's rows.
  const sql = `
    WITH q AS (SELECT websearch_to_tsquery($3::regconfig, $2) AS q),
    page AS (
      SELECT m.project_id, m.session_id, m.seq, m.id, m.author_id, m.author_name, m.created_at, m.is_edited,
             m.content, ts_rank_cd(m.search_tsv, q.q) AS rank
      FROM messages m CROSS JOIN q
      WHERE ${filter}
      ORDER BY ${order}
      LIMIT ${limitParam} OFFSET ${offsetParam}
    )
    SELECT p.project_id, p.session_id, p.seq, p.id, p.author_id, p.author_name, p.created_at, p.is_edited,
           s.title,
           ts_headline($3::regconfig, translate(p.content, E'\\x01\\x02', ''), q.q,
             CASE WHEN length(p.content) <= ${SHORT_MESSAGE_CHARS} THEN '${HEADLINE_SHORT}' ELSE '${HEADLINE_LONG}' END) AS headline
    FROM page p CROSS JOIN q LEFT JOIN sessions s ON s.id = p.session_id
    ORDER BY ${order.replaceAll('m.', 'p.')}`;
  // Two plans, chosen by counting (PostgreSQL's own estimate for a text query is often far off, and
  // the wrong plan costs a second at a million messages): a query with few matches is answered from
  // the GIN index and its matches sorted (index scans off, so the planner cannot walk the time index
  // instead); a query matching many (a common word, newest first) walks the project's time index and
  // stops after a page. Relevance must rank every match, so it always takes the GIN path.
  const r = await transaction(pool, async (tx) => {
    await tx.query('SET LOCAL enable_indexscan = off');
    await tx.query('SET LOCAL enable_seqscan = off');
    if (o.sort === 'newest') {
      const probe = await query<{ n: string }>(
        tx,
        'search.probe',
        `WITH q AS (SELECT websearch_to_tsquery($3::regconfig, $2) AS q)
         SELECT count(*) AS n FROM (SELECT 1 FROM messages m CROSS JOIN q WHERE ${filter} LIMIT ${DENSE_MATCHES}) x`,
        filterValues,
      );
      if (Number(probe.rows[0]?.n ?? 0) >= DENSE_MATCHES) {
        await tx.query('SET LOCAL enable_indexscan = on');
        await tx.query('SET LOCAL enable_seqscan = on');
      }
    }
    return query<Row>(tx, 'search.messages', sql, values);
  });
  const rows = r.rows.slice(0, o.limit);
  const items = rows.map(
    (row): SearchHitDTO => ({
      projectId: row.project_id,
      sessionId: row.session_id,
      sessionTitle: row.title ?? '',
      seq: row.seq,
      messageId: row.id,
      authorId: row.author_id,
      authorName: row.author_name,
      createdAt: row.created_at.toISOString(),
      isEdited: row.is_edited,
      snippet: snippetFromMarked(row.headline, START, STOP),
    }),
  );
  let next: PgSearchResult['next'] = null;
  if (r.rows.length > o.limit) {
    const last = items[items.length - 1]!;
    next =
      o.sort === 'newest'
        ? { key: `${last.createdAt}|${last.sessionId}|${String(last.seq).padStart(10, '0')}` }
        : { offset: offset + o.limit };
  }
  return { items, next };
}

const applied = new WeakMap<Pool, { language: string; done: Promise<void> }>();

/**
 * Makes the stored configuration the one asked for, once per pool (again when the language changes):
 * the trigger then indexes new text with it, and rows indexed with another one are re-indexed in the
 * background, in batches (searches meanwhile may miss some of those rows; the log says when it is done).
 */
export function ensureSearchLanguage(pool: Pool, language: string): Promise<void> {
  const current = applied.get(pool);
  if (current?.language === language) return current.done;
  const done = applyLanguage(pool, language);
  applied.set(pool, { language, done });
  done.catch(() => {
    if (applied.get(pool)?.done === done) applied.delete(pool);
  });
  return done;
}

async function applyLanguage(pool: Pool, language: string): Promise<void> {
  const known = await query(pool, 'search.config', 'SELECT 1 FROM pg_ts_config WHERE cfgname = $1', [language]);
  if (known.rowCount === 0) {
    throw new AppError(
      'UNAVAILABLE',
      `SEARCH_LANGUAGE=${language} is not a text search configuration of this PostgreSQL (psql \\dF lists them)`,
    );
  }
  await query(pool, 'search.config', 'UPDATE search_settings SET config = $1::regconfig WHERE config <> $1::regconfig', [
    language,
  ]);
  void reindexStale(pool, language);
}

async function reindexStale(pool: Pool, language: string): Promise<void> {
  let total = 0;
  try {
    for (;;) {
      // Touching the row fires the trigger, which re-computes the vector with the current setting.
      const r = await query(
        pool,
        'search.reindex',
        `UPDATE messages SET content = content WHERE (project_id, id) IN (
           SELECT project_id, id FROM messages WHERE search_config IS DISTINCT FROM $1::regconfig LIMIT 2000)`,
        [language],
      );
      total += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) === 0) break;
    }
    if (total > 0) log.info({ language, messages: total }, 'search index rebuilt for the new language');
  } catch (err) {
    log.warn({ language, ...errorFields(err) }, 'search re-index stopped; it resumes on the next start');
  }
}
