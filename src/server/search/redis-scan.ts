import 'server-only';
import type { Redis } from 'ioredis';
import { scripts } from '~/server/redis/scripts';
import type { ParsedQuery } from './query';

/**
 * Search without the durable tier. The installed Redis (7.0, no modules) has no query engine, so a
 * search is a bounded scan: ONE Lua script walks a project's messages newest first (a k-way merge of
 * its sessions, each read from its highest seq down, ordered by the scan key below), matches each
 * message's current text, and stops after `budget` messages, `limit` hits or the `after` bound. The
 * script returns where it stopped, so the next page goes on from there; a page that stopped at the
 * budget says so ("searched the newest N messages") instead of pretending to be complete.
 *
 * One script keeps Redis from serving a half-changed session mid-scan and costs one round trip, but it
 * also holds Redis for its run: the budget bounds that (about 10 ms per 10,000 messages, `npm run bench`).
 *
 * The scan key of a message is `<createdAt ISO>|<sessionId>|<seq, 10 digits>`: it sorts by time, is
 * unique, and compares as a plain string in Lua and JS. Cursors are scan keys: "older than this".
 *
 * Matching is a plain substring test on lower-cased text. Lua's string.lower folds ASCII only, so the
 * caller sends each term in its lower, upper and capitalized forms (ASCII-folded) and a message matches
 * a term when any form occurs: "école" finds "École" and "ÉCOLE".
 *
 * The scan itself is src/server/redis/lua/search-scan-1.lua.
 */

export interface ScanHit {
  projectId: string;
  sessionId: string;
  seq: number;
  score: number;
  key: string;
  /** The stored message (JSON, see codec.ts). */
  body: string;
}

export interface ScanResult {
  scanned: number;
  /** The scan key of the last message looked at ('' when none). */
  stopKey: string;
  /** Why it stopped: nothing left (within the filters), enough hits, or the budget. */
  reason: 'done' | 'limit' | 'budget';
  hits: ScanHit[];
}

export interface ScanOptions {
  projectId: string;
  sessionId?: string | undefined;
  /** Scan keys strictly below this one ('' = from the newest message). */
  startKey: string;
  /** ISO instant: only messages created after it. */
  after?: string | undefined;
  author?: string | undefined;
  budget: number;
  limit: number;
  query: ParsedQuery;
}

/** Lua's string.lower: ASCII letters only (what the script does to the message text). */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

/** The forms of a term the script looks for (see the header). */
export function termForms(term: string): string[] {
  const lower = term.toLowerCase();
  const capitalized = [...lower].map((c, i) => (i === 0 ? c.toUpperCase() : c)).join('');
  return [...new Set([lower, term.toUpperCase(), capitalized, term].map(asciiLower))];
}

export async function scanProject(redis: Redis, o: ScanOptions): Promise<ScanResult> {
  const spec = JSON.stringify({
    r: o.query.require.map((group) => group.map(termForms)),
    // Terms JSON writes as they are (no quote, backslash, slash - cjson escapes it - or control
    // character) can be looked for in the raw body before decoding it.
    raw: o.query.require.flat().every((t) => ![...t].some((c) => c === '"' || c === '\\' || c === '/' || c < ' ')),
    // cjson decodes [] as an empty table either way; an object key keeps it a list for the reader.
    x: o.query.exclude.map(termForms),
  });
  const reply = await scripts.searchScan.run(redis, {
    projectId: o.projectId,
    sessionId: o.sessionId ?? '',
    startKey: o.startKey,
    after: o.after ?? '',
    author: o.author ? asciiLower(o.author) : '',
    budget: o.budget,
    limit: o.limit,
    spec,
  });
  return { ...reply, hits: reply.hits.map((h) => ({ projectId: o.projectId, ...h })) };
}
