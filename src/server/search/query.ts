import 'server-only';
import { AppError } from '~/server/errors';
import { SEARCH_LIMITS } from '~/shared/search';

/**
 * The query syntax, the same words as PostgreSQL's `websearch_to_tsquery` so both engines read a query
 * alike: words must all appear, `"a phrase"` must appear as written, `-word` / `-"a phrase"` must not
 * appear, and `or` between two terms accepts either.
 *
 * `require` is a conjunction of alternatives: [[a], [b, c]] means a AND (b OR c).
 */
export interface ParsedQuery {
  require: string[][];
  exclude: string[];
}

const TOKEN = /(-?)"([^"]*)"?|(\S+)/gu;

export function parseQuery(query: string): ParsedQuery {
  const require: string[][] = [];
  const exclude: string[] = [];
  let orPending = false;
  let count = 0;
  for (const m of query.matchAll(TOKEN)) {
    const [, neg, phrase, word] = m;
    let text: string;
    let negated: boolean;
    if (phrase !== undefined) {
      text = phrase.trim().replace(/\s+/gu, ' ');
      negated = neg === '-';
    } else {
      const w = word ?? '';
      if (w.toLowerCase() === 'or' && require.length > 0) {
        orPending = true;
        continue;
      }
      negated = w.length > 1 && w.startsWith('-');
      text = negated ? w.slice(1) : w;
    }
    if (text.length === 0) continue;
    if (++count > SEARCH_LIMITS.termsMax) {
      throw new AppError('BAD_REQUEST', `query: at most ${SEARCH_LIMITS.termsMax} words or phrases`);
    }
    if (negated) {
      exclude.push(text);
      orPending = false;
    } else if (orPending) {
      require[require.length - 1]!.push(text);
      orPending = false;
    } else {
      require.push([text]);
    }
  }
  if (require.length === 0) {
    throw new AppError('BAD_REQUEST', 'query: give at least one word to look for (-word only excludes)');
  }
  return { require, exclude };
}

/** Every positive term, for highlighting. */
export function positiveTerms(q: ParsedQuery): string[] {
  return q.require.flat();
}
