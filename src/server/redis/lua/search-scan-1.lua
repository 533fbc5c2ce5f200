--[[
  Search without the durable tier: a bounded scan of a project's messages, newest first (a k-way merge
  of its sessions, each read from its highest seq down, by scan key `<createdAt ISO>|<sid>|<seq, 10
  digits>`), matching each message's current text, stopping after `budget` messages, `limit` hits or
  the `after` bound. See src/server/search/redis-scan.ts for the why and the matching rules.
  Input:
    KEYS[1] sessions zset
    ARGV[1] session key prefix
    ARGV[2] messages suffix
    ARGV[3] session id or ''
    ARGV[4] start key ('' = newest; scan keys strictly below it)
    ARGV[5] after ISO ('' = none; stop at messages created at or before it)
    ARGV[6] author name lower-cased or ''
    ARGV[7] budget
    ARGV[8] limit
    ARGV[9] JSON {r: required groups of terms (each term a list of forms), x: excluded terms, raw}
  Returns {scanned, stopKey or '', reason ('done'|'limit'|'budget'), sid1, seq1, score1, key1, body1, ...}
]]
--- @include "includes/message-keys"
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
  local m = decode_body(h.body)
  if not m then return 0 end
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
-- (a string match: includes/message-body.lua); the body is decoded only when it may match.
local function head(sid, mkey, seq)
  while seq >= 1 do
    local body = body_at(mkey, seq)
    if body then
      local at = body_created_at(body)
      if not at then
        local m = decode_body(body)
        if m then at = tostring(m.createdAt) end
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
