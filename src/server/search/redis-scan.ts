import 'server-only';
import type { Redis } from 'ioredis';
import { keys, MESSAGES_SUFFIX, sessionKeyPrefix } from '~/server/redis/keys';
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
 * KEYS: 1 sessions zset
 * ARGV: 1 session key prefix, 2 messages suffix, 3 session id or '', 4 start key ('' = newest; scan
 *       keys strictly below it), 5 after ISO ('' = none; stop at messages created at or before it),
 *       6 author name lower-cased or '', 7 budget, 8 limit, 9 JSON {r = [[[forms]]], x = [[forms]], raw}
 * Returns {scanned, stopKey or '', reason ('done'|'limit'|'budget'), sid1, seq1, score1, key1, body1, ...}
 */
const SEARCH_SCAN = `
local prefix, suffix, onlySid, startKey, after, author = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local budget, limit = tonumber(ARGV[7]), tonumber(ARGV[8])
local spec = cjson.decode(ARGV[9])

local function keyOf(at, sid, seq)
  return at .. '|' .. sid .. '|' .. string.format('%010d', seq)
end

local function count(text, forms)
  local best = 0
  for _, f in ipairs(forms) do
    local n, i = 0, 1
    while true do
      local s, e = string.find(text, f, i, true)
      if not s then break end
      n = n + 1
      i = e + 1
    end
    if n > best then best = n end
  end
  return best
end

-- 0 when the message does not match, else the number of term occurrences (the relevance score).
local function score(h)
  -- Cheap rejection first: when the terms are written the same in JSON (spec.raw), a body that does
  -- not hold a form of every required term anywhere cannot hold them in its text.
  if spec.raw then
    local lb = string.lower(h.body)
    for _, group in ipairs(spec.r) do
      local any = false
      for _, forms in ipairs(group) do
        for _, f in ipairs(forms) do
          if string.find(lb, f, 1, true) then any = true break end
        end
        if any then break end
      end
      if not any then return 0 end
    end
  end
  local ok, m = pcall(cjson.decode, h.body)
  if not ok or type(m) ~= 'table' then return 0 end
  if m.deleted or type(m.content) ~= 'string' then return 0 end
  if author ~= '' and string.lower(tostring(m.authorName)) ~= author then return 0 end
  local text = string.lower(m.content)
  for _, forms in ipairs(spec.x) do
    if count(text, forms) > 0 then return 0 end
  end
  local total = 0
  for _, group in ipairs(spec.r) do
    local g = 0
    for _, forms in ipairs(group) do g = g + count(text, forms) end
    if g == 0 then return 0 end
    total = total + g
  end
  return total
end

-- The head of one session: its message at seq (skipping seqs with no body). Only the time is read
-- (a string match: encodeMessage and cjson both write "createdAt":"..." and escape quotes inside
-- strings, so the pattern cannot match message text); the body is decoded only when it may match.
local function head(sid, mkey, seq)
  while seq >= 1 do
    local body = redis.call('HGET', mkey, seq)
    if body then
      local at = string.match(body, '"createdAt":"([^"]*)"')
      if not at then
        local ok, m = pcall(cjson.decode, body)
        if ok and type(m) == 'table' then at = tostring(m.createdAt) end
      end
      if at then
        return {key = keyOf(at, sid, seq), at = at, sid = sid, mkey = mkey, seq = seq, body = body}
      end
    end
    seq = seq - 1
  end
  return nil
end

-- The highest seq of a session whose scan key is below startKey (seqs are in time order per session).
local function startSeq(sid, mkey, lastSeq)
  if startKey == '' or lastSeq < 1 then return lastSeq end
  local top = head(sid, mkey, lastSeq)
  if not top or top.key < startKey then return lastSeq end
  local lo, hi = 1, lastSeq -- invariant: the answer is below hi
  local found = 0
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local h = head(sid, mkey, mid)
    if h and h.key < startKey then
      found = h.seq
      lo = mid + 1
    else
      hi = mid
    end
  end
  return found
end

-- A max-heap of session heads by scan key.
local heap = {}
local function push(h)
  heap[#heap + 1] = h
  local i = #heap
  while i > 1 do
    local p = math.floor(i / 2)
    if heap[p].key >= heap[i].key then break end
    heap[p], heap[i] = heap[i], heap[p]
    i = p
  end
end
local function pop()
  local top = heap[1]
  heap[1] = heap[#heap]
  heap[#heap] = nil
  local i, n = 1, #heap
  while true do
    local l, r, big = 2 * i, 2 * i + 1, i
    if l <= n and heap[l].key > heap[big].key then big = l end
    if r <= n and heap[r].key > heap[big].key then big = r end
    if big == i then break end
    heap[big], heap[i] = heap[i], heap[big]
    i = big
  end
  return top
end

local sids
if onlySid ~= '' then sids = {onlySid} else sids = redis.call('ZRANGE', KEYS[1], 0, -1) end
for _, sid in ipairs(sids) do
  local skey = prefix .. sid
  local lastSeq = tonumber(redis.call('HGET', skey, 'lastSeq') or '0')
  local mkey = skey .. suffix
  local s = startSeq(sid, mkey, lastSeq)
  if s >= 1 then
    local h = head(sid, mkey, s)
    if h then push(h) end
  end
end

local out = {0, '', 'done'}
local scanned, stopKey, reason, hits = 0, '', 'done', 0
while #heap > 0 do
  if scanned >= budget then reason = 'budget' break end
  if after ~= '' and heap[1].at <= after then break end
  local h = pop()
  scanned = scanned + 1
  stopKey = h.key
  local sc = score(h)
  if sc > 0 then
    out[#out + 1] = h.sid
    out[#out + 1] = h.seq
    out[#out + 1] = sc
    out[#out + 1] = h.key
    out[#out + 1] = h.body
    hits = hits + 1
  end
  local nxt = head(h.sid, h.mkey, h.seq - 1)
  if nxt then push(nxt) end
  if hits >= limit then
    if #heap > 0 then reason = 'limit' end
    break
  end
end
out[1], out[2], out[3] = scanned, stopKey, reason
return out
`;

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

type ScanRedis = Redis & {
  parleySearchScan(sessionsKey: string, ...args: (string | number)[]): Promise<(string | number)[]>;
};

function withScanCommand(redis: Redis): ScanRedis {
  // Defined on first use on whatever connection the caller has (EVALSHA with a fallback to EVAL).
  if (!('parleySearchScan' in redis)) redis.defineCommand('parleySearchScan', { numberOfKeys: 1, lua: SEARCH_SCAN });
  return redis as ScanRedis;
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
  const reply = await withScanCommand(redis).parleySearchScan(
    keys.sessions(o.projectId),
    sessionKeyPrefix(o.projectId),
    MESSAGES_SUFFIX,
    o.sessionId ?? '',
    o.startKey,
    o.after ?? '',
    o.author ? asciiLower(o.author) : '',
    o.budget,
    o.limit,
    spec,
  );
  const hits: ScanHit[] = [];
  for (let i = 3; i + 4 < reply.length; i += 5) {
    hits.push({
      projectId: o.projectId,
      sessionId: String(reply[i]),
      seq: Number(reply[i + 1]),
      score: Number(reply[i + 2]),
      key: String(reply[i + 3]),
      body: String(reply[i + 4]),
    });
  }
  return {
    scanned: Number(reply[0]),
    stopKey: String(reply[1]),
    reason: String(reply[2]) as ScanResult['reason'],
    hits,
  };
}
