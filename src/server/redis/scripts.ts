import 'server-only';
import type { Redis } from 'ioredis';
import { LIMITS } from '~/shared/limits';
import { keys, mentionKeyPrefix } from './keys';

/**
 * Every chat write is ONE Lua script: the data change, its counters and the event that announces it
 * land together or not at all (a crash can never leave a message without its event, or the reverse).
 * Reads that need two dependent steps are scripts too, so a page costs one round trip.
 *
 * Conventions: domain failures are raised as `PARLEY_<CODE> <detail>` error replies, which the store
 * turns into typed errors. Event entries are `t` (type) and `d` (JSON data) - except message events,
 * which carry only `s` (session id) and `q` (seq): the body is read from the session's messages hash
 * when the log is read (READ_EVENTS), so the log does not hold a second copy of every message (about
 * 260 bytes a message at the default log length; `npm run bench`). Every event-appending script PUBLISHes the new entry id on the project's
 * wake channel, so per-process tails read the log at once instead of polling it.
 *
 * The outbox (durable tier): write scripts take the outbox stream as an OPTIONAL last key. When the
 * caller passes it, the script appends the change there too (`k` kind, `p` project, `s` session, `q`
 * seq, `d` JSON, ...), atomically with the change; when the tier is off the key is not passed and
 * nothing is written there (and no script touches a key outside its project's slot). Scripts with an
 * optional key are defined without a fixed key count: callers pass the count first (see withOutbox).
 */

/**
 * A session whose messages were evicted (`evicted` in its record) takes no message until read-through
 * brought them back: NOT_FOUND, as for a session Redis does not hold at all.
 * KEYS: 1 session, 2 messages, 3 messageIds, 4 sessions zset, 5 recent list, 6 events, 7 project,
 *       [8 outbox]
 * ARGV: 1 id, 2 body JSON, 3 now ISO, 4 now ms, 5 session id, 6 event log maxlen, 7 recent cap,
 *       8 wake channel, 9 project id, [10 mention key prefix, 11.. user ids the message mentions:
 *       each one's mention set of the session gets the seq]
 * Returns {created (1|0), seq, body, eventId|false, outboxId|false}
 */
export const APPEND_MESSAGE = `
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then
  local sep = string.find(existing, ':', 1, true)
  local sid = string.sub(existing, 1, sep - 1)
  local seq = string.sub(existing, sep + 1)
  if sid ~= ARGV[5] then
    return redis.error_reply('PARLEY_CONFLICT message id already used in another session')
  end
  return {0, tonumber(seq), redis.call('HGET', KEYS[2], seq), false}
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
local seq = redis.call('HINCRBY', KEYS[1], 'lastSeq', 1)
redis.call('HSET', KEYS[2], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5] .. ':' .. seq)
redis.call('HINCRBY', KEYS[1], 'messageCount', 1)
redis.call('HSET', KEYS[1], 'lastMessageAt', ARGV[3], 'updatedAt', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[7], 'lastActivityAt', ARGV[3])
redis.call('LPUSH', KEYS[5], ARGV[5] .. ':' .. seq)
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[7]) - 1)
for i = 11, #ARGV do redis.call('ZADD', ARGV[10] .. ARGV[i] .. ':' .. ARGV[5], seq, seq) end
local eid = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*',
  't', 'message.created', 's', ARGV[5], 'q', seq)
local oid = false
if KEYS[8] then
  oid = redis.call('XADD', KEYS[8], '*', 'k', 'message', 'p', ARGV[9], 's', ARGV[5], 'q', seq, 'd', ARGV[2])
end
redis.call('PUBLISH', ARGV[8], eid)
return {1, seq, ARGV[2], eid, oid}
`;

/**
 * Compare-and-set of one message body: the caller read `expected`, changed it in JS (JSON stays in JS,
 * where it round-trips exactly), and the swap happens only if nobody changed it meanwhile. NOT_FOUND
 * while the session's messages are evicted (read-through is bringing them back).
 * KEYS: 1 session, 2 messages, 3 events, [4 outbox]
 * ARGV: 1 seq, 2 expected body, 3 new body, 4 event type, 5 session id, 6 now ISO, 7 maxlen,
 *       8 wake channel, 9 project id, [10 mention key prefix, 11 n, 12..11+n user ids the old text
 *       mentioned (their sets lose the seq), then user ids the new text mentions (their sets get it)]
 * Returns the event id, or false when the body changed meanwhile (the caller re-reads and retries).
 */
export const REPLACE_MESSAGE = `
if redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
if ARGV[10] then
  local removed = tonumber(ARGV[11])
  for i = 12, 11 + removed do redis.call('ZREM', ARGV[10] .. ARGV[i] .. ':' .. ARGV[5], ARGV[1]) end
  for i = 12 + removed, #ARGV do redis.call('ZADD', ARGV[10] .. ARGV[i] .. ':' .. ARGV[5], ARGV[1], ARGV[1]) end
end
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*',
  't', ARGV[4], 's', ARGV[5], 'q', ARGV[1])
if KEYS[4] then
  redis.call('XADD', KEYS[4], '*', 'k', 'message', 'p', ARGV[9], 's', ARGV[5], 'q', ARGV[1], 'd', ARGV[3])
end
redis.call('PUBLISH', ARGV[8], eid)
return eid
`;

/**
 * Reads the event log after a position, resolving message events' bodies, in one round trip.
 * (XINFO runs only for a reader at 0-0, i.e. once per tail of a brand-new project's log.)
 * KEYS: 1 events. ARGV: 1 after id ('0-0' = from the start), 2 until id, 3 count,
 *       4 session key prefix, 5 messages suffix
 * Returns false when the after id is no longer in the log (trimmed, or the log was reset), else the
 * entries as XRANGE gives them, message events completed with `d` (the message's current state - a
 * reader may see a newer state than the event announced, never an older one). A body that is gone
 * (its session left Redis) is left out; the reader must then resync.
 */
const READ_EVENTS = `
local start = '-'
if ARGV[1] ~= '0-0' then
  if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
  start = '(' .. ARGV[1]
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  -- A reader at 0-0 saw an empty log; if anything was trimmed since, it missed that. (Redis 7.0's
  -- max-deleted-entry-id ignores MAXLEN trimming, so compare the counts.)
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local added, length = 0, 0
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] end
    if info[i] == 'length' then length = info[i + 1] end
  end
  if added > length then return false end
end
local entries = redis.call('XRANGE', KEYS[1], start, ARGV[2], 'COUNT', tonumber(ARGV[3]))
for _, entry in ipairs(entries) do
  local f = entry[2]
  if f[3] == 's' and f[5] == 'q' and f[7] == nil then
    local body = redis.call('HGET', ARGV[4] .. f[4] .. ARGV[5], f[6])
    if body then
      f[7] = 'd'
      f[8] = body
    end
  end
end
return entries
`;

/**
 * KEYS: 1 session, 2 messages. ARGV: 1 cursor ('' = from the newest), 2 limit
 * Returns {top seq, bodies...} with bodies from seq=top downwards (nil for none). NOT_FOUND when the
 * session is not in Redis, or its messages are evicted (the durable tier reads them through).
 */
const LIST_MESSAGES = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0')
local top = last
if ARGV[1] ~= '' then top = math.min(last, tonumber(ARGV[1]) - 1) end
if top < 1 then return {0} end
local bottom = math.max(1, top - tonumber(ARGV[2]) + 1)
local fields = {}
for s = top, bottom, -1 do fields[#fields + 1] = s end
local bodies = redis.call('HMGET', KEYS[2], unpack(fields))
table.insert(bodies, 1, top)
return bodies
`;

/**
 * The project's newest messages across sessions, newest first. A ref whose body is absent (its
 * session left Redis: idle eviction, or lost data) is skipped, and its session id reported.
 * KEYS: 1 recent list. ARGV: 1 limit, 2 session key prefix, 3 messages suffix
 * Returns {{sid, seq, body, sid, seq, body, ...}, {session ids with absent bodies}}
 */
const RECENT_MESSAGES = `
local refs = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out, missing, seen = {}, {}, {}
for _, ref in ipairs(refs) do
  local sep = string.find(ref, ':', 1, true)
  local sid = string.sub(ref, 1, sep - 1)
  local seq = string.sub(ref, sep + 1)
  local body = redis.call('HGET', ARGV[2] .. sid .. ARGV[3], seq)
  if body then
    out[#out + 1] = sid
    out[#out + 1] = seq
    out[#out + 1] = body
  elseif not seen[sid] then
    seen[sid] = true
    missing[#missing + 1] = sid
  end
end
return {out, missing}
`;

/**
 * KEYS: 1 sessions zset. ARGV: 1 session key prefix, 2 limit
 * Returns {sid, flat HGETALL, sid, flat HGETALL, ...}, most recent activity first (an empty HGETALL:
 * the session's record is not in Redis).
 */
const LIST_SESSIONS = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, sid in ipairs(ids) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. sid)
end
return out
`;

/**
 * KEYS: 1 session, 2 sessions zset, 3 events, 4 project, [5 outbox]
 * ARGV: 1 session id, 2 now ms, 3 now ISO, 4 maxlen, 5 wake channel, 6 session JSON, 7 project id,
 *       8.. field/value
 * Returns the event id.
 */
const CREATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT session exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[4], 'lastActivityAt', ARGV[3])
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
  't', 'session.created', 'd', ARGV[6])
if KEYS[5] then
  redis.call('XADD', KEYS[5], '*', 'k', 'session', 'p', ARGV[7], 'd', ARGV[6])
end
redis.call('PUBLISH', ARGV[5], eid)
return eid
`;

/**
 * KEYS: 1 session, 2 events, [3 outbox]
 * ARGV: 1 maxlen, 2 wake channel, 3 project id, 4.. field/value pairs to set
 * Returns {eventId, flat HGETALL of the updated session}
 */
const UPDATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
local flat = redis.call('HGETALL', KEYS[1])
local record = {}
for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
record.evicted = nil
local json = cjson.encode(record)
local eid = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 't', 'session.updated', 'd', json)
if KEYS[3] then
  redis.call('XADD', KEYS[3], '*', 'k', 'session', 'p', ARGV[3], 'd', json)
end
redis.call('PUBLISH', ARGV[2], eid)
return {eid, flat}
`;

/**
 * KEYS: 1 project, 2 members, [3 outbox]
 * ARGV: 1 owner id, 2 project JSON, 3.. project field/value pairs
 */
const CREATE_PROJECT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT project exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[1])
if KEYS[3] then
  redis.call('XADD', KEYS[3], '*', 'k', 'project', 'd', ARGV[2])
end
return 1
`;

/**
 * KEYS: 1 project, 2 members, 3 events, [4 outbox]
 * ARGV: 1 user id, 2 member JSON, 3 maxlen, 4 wake channel, 5 project id, 6 joined at (ms)
 * Returns 1 if added, 0 if already a member.
 */
const ADD_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
  't', 'member.added', 'd', ARGV[2])
if KEYS[4] then
  redis.call('XADD', KEYS[4], '*', 'k', 'member', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6])
end
redis.call('PUBLISH', ARGV[4], eid)
return 1
`;


// ---------------------------------------------------------------- invitations and leaving (issue 14 item 6)

/**
 * Invites a user: a pending invitation, no membership yet (they must accept).
 * KEYS: 1 project, 2 members, 3 invites. ARGV: 1 user id, 2 invitation JSON, 3 max pending per project
 * Returns 1 invited (or already invited), 0 already a member.
 */
const INVITE_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[3]) then
  return redis.error_reply('PARLEY_BAD_REQUEST this project has too many pending invitations (at most ' .. ARGV[3] .. ')')
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
`;

/**
 * Accepts an invitation: takes it, adds the member and appends member.added, in one step.
 * KEYS: 1 project, 2 members, 3 invites, 4 left, 5 events, [6 outbox]
 * ARGV: 1 user id, 2 member JSON, 3 maxlen, 4 wake channel, 5 project id, 6 joined at (ms)
 * Returns 1 joined, 0 already a member (a repeated accept). No invitation: NOT_FOUND.
 */
const ACCEPT_INVITE = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local eid = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[3], '*', 't', 'member.added', 'd', ARGV[2])
if KEYS[6] then
  redis.call('XADD', KEYS[6], '*', 'k', 'member', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6])
end
redis.call('PUBLISH', ARGV[4], eid)
return 1
`;

/**
 * A member leaves. The owner may leave only as the last member (there is no transfer).
 * KEYS: 1 project, 2 members, 3 left, 4 events, [5 outbox]
 * ARGV: 1 user id, 2 member JSON, 3 maxlen, 4 wake channel, 5 project id, 6 now (ms)
 * Not a member: NOT_FOUND project (as for a project that does not exist).
 */
const LEAVE_PROJECT = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('HGET', KEYS[1], 'ownerId') == ARGV[1] and redis.call('SCARD', KEYS[2]) > 1 then
  return redis.error_reply('PARLEY_CONFLICT the owner cannot leave while other members remain')
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
local eid = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 't', 'member.removed', 'd', ARGV[2])
if KEYS[5] then
  redis.call('XADD', KEYS[5], '*', 'k', 'member_removed', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6])
end
redis.call('PUBLISH', ARGV[4], eid)
return 1
`;

// ---------------------------------------------------------------- accounts (durable tier only)
// With the tier off, accounts keep their plain commands (AuthService); these scripts add the outbox
// entry atomically. They span the user, username and outbox keys: standalone Redis only.

/**
 * KEYS: 1 user, 2 username, 3 outbox. ARGV: 1 user id, 2 user JSON (with the hash), 3.. field/value
 * Returns 1, or 0 when the username is taken (nothing written).
 */
const SIGN_UP = `
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('XADD', KEYS[3], '*', 'k', 'user', 'd', ARGV[2])
return 1
`;

/**
 * KEYS: 1 login session, 2 outbox
 * ARGV: 1 value "<uid> <username>", 2 ttl seconds, 3 token hash, 4 user id, 5 username, 6 expires ms
 */
const START_LOGIN = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'k', 'login', 'h', ARGV[3], 'u', ARGV[4], 'n', ARGV[5], 'x', ARGV[6])
return 1
`;

/**
 * Sign-out. The login's key is not deleted but overwritten with a revocation tombstone that outlives
 * the login (its time left plus a margin): with the durable tier on, "absent" means "Redis lost it,
 * read it through from PostgreSQL", and PostgreSQL only learns of the sign-out once the consumer
 * persists the logout entry appended here, atomically with the tombstone. A key that is absent gets a
 * tombstone (with the longest login life) only when the caller asks for it (it knows the login may be
 * live elsewhere); otherwise an unknown token stores nothing. Used with the tier off too (no outbox).
 * KEYS: 1 login session, [2 outbox]
 * ARGV: 1 token hash, 2 now ms, 3 tombstone value, 4 margin ms, 5 ttl ms for an absent key,
 *       6 '1' = tombstone an absent key too
 * Returns 1 signed out now, 0 absent (nothing written), 2 already signed out (nothing written).
 */
const END_LOGIN = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[3] then return 2 end
local ttl
if current then
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[5]) else ttl = ttl + tonumber(ARGV[4]) end
elseif ARGV[6] == '1' then
  ttl = tonumber(ARGV[5])
else
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
if KEYS[2] then
  redis.call('XADD', KEYS[2], '*', 'k', 'logout', 'h', ARGV[1], 'at', ARGV[2])
end
return 1
`;

// ---------------------------------------------------------------- read-through (durable tier only)
// Copy records back from PostgreSQL into a Redis that lost them. They only ever fill what is absent
// or partial (HSETNX, SET NX, a record counts as present only with its `id` field), keeping whatever a
// racing live write put there, and they append no events and no outbox entries (the data came from
// PostgreSQL). A session's bodies go in first and its hash last: the hash is what makes the session
// exist for reads and appends, so nobody sees a half-filled one. A session whose bodies were evicted
// keeps its hash, marked `evicted` until its bodies are back: message reads and writes refuse it
// (NOT_FOUND, so they read it through) for as long as the mark is there.

/**
 * KEYS: 1 messages, 2 messageIds. ARGV: 1 session id, then (seq, id, body) triples
 */
const HYDRATE_MESSAGES = `
for i = 2, #ARGV, 3 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2])
  redis.call('HSETNX', KEYS[2], ARGV[i + 1], ARGV[1] .. ':' .. ARGV[i])
end
return 1
`;

/**
 * A session record is whole when it has its `id`; only then is it left as it is - except that its
 * `evicted` mark goes (the caller has just copied the messages back), unless the messages are gone
 * again (an eviction pass ran between the copy and this call: the next read copies them again). A
 * partial hash (no id) is merged: PostgreSQL's fields fill it, counters and times keep the larger value.
 * KEYS: 1 session, 2 sessions zset, 3 messages. ARGV: 1 session id, 2 activity score (ms), 3.. field/value
 * Returns 1 if written, 2 if the record was whole and its messages are back, 0 if it was whole.
 */
const HYDRATE_SESSION = `
if redis.call('HEXISTS', KEYS[1], 'id') == 1 then
  if redis.call('HEXISTS', KEYS[1], 'evicted') == 0 then return 0 end
  if tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0') > 0 and redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
  redis.call('HDEL', KEYS[1], 'evicted')
  return 2
end
for i = 3, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], f)
  if not cur then
    redis.call('HSET', KEYS[1], f, v)
  elseif f == 'lastSeq' or f == 'messageCount' then
    if tonumber(v) > (tonumber(cur) or 0) then redis.call('HSET', KEYS[1], f, v) end
  elseif f == 'lastMessageAt' or f == 'updatedAt' then
    if v > cur then redis.call('HSET', KEYS[1], f, v) end
  else
    redis.call('HSET', KEYS[1], f, v)
  end
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
return 1
`;

/**
 * A project record is whole when it has its `id`. A partial one (an append or a session create
 * reached an empty Redis first and left only lastActivityAt) takes PostgreSQL's fields, keeping the
 * later activity time. The recent list is rebuilt when the record was partial (it then holds only
 * what was appended since) or is absent: the union of its refs and PostgreSQL's, newest first by
 * message time (then seq), de-duplicated and capped. A whole project's list is left as it is.
 * KEYS: 1 project, 2 members, 3 recent
 * ARGV: 1 session key prefix, 2 messages suffix, 3 recent cap, 4 number of members n, 5..n+4 member
 *       ids, then the number of recent refs r, r (ref, createdAt ISO) pairs, then project field/value
 * Returns 1 if the record was written or merged, 0 if it was whole.
 */
const HYDRATE_PROJECT = `
local n = tonumber(ARGV[4])
local r = tonumber(ARGV[n + 5])
local fields = n + 6 + 2 * r
local whole = redis.call('HEXISTS', KEYS[1], 'id') == 1
if not whole or redis.call('EXISTS', KEYS[3]) == 0 then
  local entries, seen = {}, {}
  local function add(ref, at)
    if seen[ref] then return end
    seen[ref] = true
    local sep = string.find(ref, ':', 1, true)
    entries[#entries + 1] = { ref = ref, at = at, sid = string.sub(ref, 1, sep - 1), seq = tonumber(string.sub(ref, sep + 1)) }
  end
  for _, ref in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    local sep = string.find(ref, ':', 1, true)
    local at = ''
    if sep then
      local body = redis.call('HGET', ARGV[1] .. string.sub(ref, 1, sep - 1) .. ARGV[2], string.sub(ref, sep + 1))
      if body then
        local ok, m = pcall(cjson.decode, body)
        if ok and type(m) == 'table' and type(m.createdAt) == 'string' then at = m.createdAt end
      end
      add(ref, at)
    end
  end
  for i = n + 6, n + 5 + 2 * r, 2 do add(ARGV[i], ARGV[i + 1]) end
  table.sort(entries, function(a, b)
    if a.at ~= b.at then return a.at > b.at end
    if a.sid == b.sid then return a.seq > b.seq end
    return a.ref > b.ref
  end)
  redis.call('DEL', KEYS[3])
  local cap = math.min(#entries, tonumber(ARGV[3]))
  for i = 1, cap, 500 do
    local chunk = {}
    for j = i, math.min(cap, i + 499) do chunk[#chunk + 1] = entries[j].ref end
    redis.call('RPUSH', KEYS[3], unpack(chunk))
  end
end
local written = 0
if not whole then
  for i = fields, #ARGV, 2 do
    local f, v = ARGV[i], ARGV[i + 1]
    local cur = redis.call('HGET', KEYS[1], f)
    if f ~= 'lastActivityAt' or not cur or v > cur then redis.call('HSET', KEYS[1], f, v) end
  end
  written = 1
end
for i = 5, n + 4 do redis.call('SADD', KEYS[2], ARGV[i]) end
return written
`;

/**
 * KEYS: 1 user, 2 username. ARGV: 1 user id, 2.. field/value
 * Returns 1 when the username now names this user, 0 when another user holds it.
 */
const HYDRATE_USER = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
if redis.call('GET', KEYS[2]) == ARGV[1] then return 1 end
return 0
`;

// ---------------------------------------------------------------- idle eviction (durable tier only)

/**
 * Evicts one idle session's messages from Redis (its bodies hash). Its record stays, marked
 * `evicted`, with its place in the project's session index (so listing sessions, with their counters,
 * needs nothing back), as do the message id index and the recent list; message reads and writes see
 * the mark and read the messages through, which removes it. Only while every change of the session is
 * persisted: no entry for it in the outbox (entries leave it only once persisted) nor among the dead
 * letters, and no change since the cutoff. Atomic with respect to every write, which appends to the
 * outbox in its own script. Spans the project's slot and the outbox: standalone Redis, like the write
 * scripts with the tier on.
 * KEYS: 1 session, 2 messages, 3 outbox, 4 dead letters
 * ARGV: 1 project id, 2 session id, 3 cutoff (ISO: no change after it), 4 most stream entries to scan
 * Returns 1 evicted; 0 not (wholly) in Redis, or evicted already; -1 changed since the cutoff; -2 a
 * stream too long to scan (the consumer lags: try later); -3 a change not persisted yet.
 */
const EVICT_SESSION = `
if redis.call('HEXISTS', KEYS[1], 'id') == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then return 0 end
if (redis.call('HGET', KEYS[1], 'updatedAt') or '') > ARGV[3] then return -1 end
local most = tonumber(ARGV[4])
for k = 3, 4 do
  if redis.call('XLEN', KEYS[k]) > most then return -2 end
  for _, entry in ipairs(redis.call('XRANGE', KEYS[k], '-', '+')) do
    local f, flat = {}, entry[2]
    for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
    if f.s == ARGV[2] then return -3 end
    if f.k == 'session' and f.p == ARGV[1] and f.d and string.find(f.d, ARGV[2], 1, true) then return -3 end
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'evicted', '1')
return 1
`;

// ---------------------------------------------------------------- backfill (durable tier only)
// Switching the tier on for a Redis that already holds data: each script reads the CURRENT state of a
// few records and appends it to the outbox in the same call, so any later change of those records
// lands in the outbox after it (with a newer version). Re-running is harmless (same state, newer id).

/** KEYS: 1 user, 2 outbox. Appends the account (with its hash). Returns 1, or 0 if absent. */
const BACKFILL_USER = `
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return 0 end
local r = {}
for i = 1, #f, 2 do r[f[i]] = f[i + 1] end
if not r.id or not r.username or not r.passwordHash then return 0 end
redis.call('XADD', KEYS[2], '*', 'k', 'user', 'd', cjson.encode({
  id = r.id, username = r.username, passwordHash = r.passwordHash, createdAt = r.createdAt }))
return 1
`;

/** KEYS: 1 login session, 2 outbox. ARGV: 1 token hash. Appends the login with its expiry. */
const BACKFILL_LOGIN = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
-- A sign-out tombstone has no space: it is skipped (nothing to copy).
local sep = string.find(v, ' ', 1, true)
if not sep then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XADD', KEYS[2], '*', 'k', 'login', 'h', ARGV[1], 'u', string.sub(v, 1, sep - 1),
  'n', string.sub(v, sep + 1), 'x', now + ttl)
return 1
`;

/**
 * KEYS: 1 project, 2 members, 3 sessions zset, 4 outbox. ARGV: 1 project id, 2 session key prefix
 * Appends the project, its members and its sessions' records. Returns the session ids.
 */
const BACKFILL_PROJECT = `
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return {} end
local p = {}
for i = 1, #f, 2 do p[f[i]] = f[i + 1] end
redis.call('XADD', KEYS[4], '*', 'k', 'project', 'd', cjson.encode({
  id = p.id, name = p.name, ownerId = p.ownerId, createdAt = p.createdAt }))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000
for _, uid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('XADD', KEYS[4], '*', 'k', 'member', 'p', ARGV[1], 'u', uid, 'at', now)
end
local sids = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, sid in ipairs(sids) do
  local sf = redis.call('HGETALL', ARGV[2] .. sid)
  if #sf > 0 then
    local r = {}
    for i = 1, #sf, 2 do r[sf[i]] = sf[i + 1] end
    r.evicted = nil
    redis.call('XADD', KEYS[4], '*', 'k', 'session', 'p', ARGV[1], 'd', cjson.encode(r))
  end
end
return sids
`;

/**
 * KEYS: 1 messages, 2 outbox. ARGV: 1 project id, 2 session id, 3 from seq, 4 to seq
 * Appends the bodies of seqs from..to. Returns how many.
 */
const BACKFILL_MESSAGES = `
local n = 0
for s = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  local body = redis.call('HGET', KEYS[1], s)
  if body then
    redis.call('XADD', KEYS[2], '*', 'k', 'message', 'p', ARGV[1], 's', ARGV[2], 'q', s, 'd', body)
    n = n + 1
  end
end
return n
`;

/**
 * Moves a user's read marker of one session forward, never back, and never past the session's last
 * seq; tells that user's streams (and only theirs) on their signal channel; with the durable tier on,
 * appends the move to the outbox (PostgreSQL keeps the furthest marker).
 * KEYS: 1 the user's read markers in the project, 2 session, [3 outbox]
 * ARGV: 1 session id, 2 seq, 3 last seq when the session hash is absent (evicted), 4 user signal
 * channel, 5 project id, 6 '1' to publish the change ('0' when the user's own message.created
 * already tells their tabs), 7 user id
 * Returns the marker after the call.
 */
const MARK_READ = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeq') or ARGV[3])
local want = math.min(tonumber(ARGV[2]), last)
if want <= current then return current end
redis.call('HSET', KEYS[1], ARGV[1], want)
if KEYS[3] then
  redis.call('XADD', KEYS[3], '*', 'k', 'read', 'p', ARGV[5], 'u', ARGV[7], 's', ARGV[1], 'q', want)
end
if ARGV[6] == '1' then redis.call('PUBLISH', ARGV[4], cjson.encode({type = 'read.updated', projectId = ARGV[5], sessionId = ARGV[1], lastRead = want})) end
return want
`;

/**
 * Re-hydration of one user's read markers in a project (from PostgreSQL): each only moves forward.
 * KEYS: 1 the user's read markers. ARGV: session id, last-read seq, ...
 * Returns how many moved.
 */
const HYDRATE_READS = `
local moved = 0
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    moved = moved + 1
  end
end
return moved
`;

/**
 * A user's unread messages in one project: the sum over its sessions of lastSeq - lastRead (seqs are
 * gap-free), and among them those that mention the user (ZCOUNT of the user's mention set of each
 * session after the marker). Sessions whose hash is absent count as read.
 * KEYS: 1 sessions zset, 2 the user's read markers. ARGV: 1 session key prefix, 2 the user's mention
 * key prefix (prefix..sid is keys.mentions)
 * Returns {unread, mentions}.
 */
const UNREAD_TOTAL = `
local total, mentions = 0, 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local last = tonumber(redis.call('HGET', ARGV[1] .. sid, 'lastSeq') or '0')
  local read = tonumber(redis.call('HGET', KEYS[2], sid) or '0')
  if last > read then
    total = total + last - read
    mentions = mentions + redis.call('ZCOUNT', ARGV[2] .. sid, '(' .. read, '+inf')
  end
end
return {total, mentions}
`;

/**
 * A user's unread mentions in one project, per session: the seqs after the marker, oldest first.
 * KEYS: 1 sessions zset, 2 the user's read markers. ARGV: 1 the user's mention key prefix, 2 most
 * seqs per session
 * Returns {sid, {seq...}, sid, {seq...}, ...} for sessions with any.
 */
const UNREAD_MENTIONS = `
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local read = redis.call('HGET', KEYS[2], sid) or '0'
  local seqs = redis.call('ZRANGEBYSCORE', ARGV[1] .. sid, '(' .. read, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
  if #seqs > 0 then
    out[#out + 1] = sid
    out[#out + 1] = seqs
  end
end
return out
`;

/**
 * A presence heartbeat: the user is here until ARGV[3]; sweeps members whose heartbeat expired; tells
 * the project's streams (ephemeral channel, never the log).
 * KEYS: 1 presence zset, 2 presence state hash. ARGV: 1 user id, 2 state, 3 until (ms), 4 now (ms),
 * 5 signal channel, 6 project id
 */
const PRESENCE_HEARTBEAT = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
  redis.call('HDEL', KEYS[2], unpack(gone))
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'presence', projectId = ARGV[6], userId = ARGV[1], state = ARGV[2], ['until'] = tonumber(ARGV[3])}))
return 1
`;

type Arg = string | number;
type ScriptFn<R> = (...args: Arg[]) => Promise<R>;

export interface ParleyScripts {
  parleyAppendMessage: ScriptFn<[0 | 1, number, string | null, string | null, string | null]>;
  parleyReplaceMessage: ScriptFn<string | null>;
  parleyListMessages: ScriptFn<[number, ...(string | null)[]]>;
  parleyReadEvents: ScriptFn<[id: string, fields: string[]][] | null>;
  parleyRecentMessages: ScriptFn<[string[], string[]]>;
  parleyListSessions: ScriptFn<Array<string | string[]>>;
  parleyCreateSession: ScriptFn<string>;
  parleyUpdateSession: ScriptFn<[string, string[]]>;
  parleyCreateProject: ScriptFn<number>;
  parleyAddMember: ScriptFn<number>;
  parleyInviteMember: ScriptFn<0 | 1>;
  parleyAcceptInvite: ScriptFn<0 | 1>;
  parleyLeaveProject: ScriptFn<1>;
  parleySignUp: ScriptFn<0 | 1>;
  parleyStartLogin: ScriptFn<number>;
  parleyEndLogin: ScriptFn<0 | 1 | 2>;
  parleyHydrateMessages: ScriptFn<number>;
  parleyHydrateSession: ScriptFn<0 | 1 | 2>;
  parleyHydrateProject: ScriptFn<0 | 1>;
  parleyHydrateUser: ScriptFn<0 | 1>;
  parleyEvictSession: ScriptFn<1 | 0 | -1 | -2 | -3>;
  parleyBackfillUser: ScriptFn<0 | 1>;
  parleyBackfillLogin: ScriptFn<0 | 1>;
  parleyBackfillProject: ScriptFn<string[]>;
  parleyBackfillMessages: ScriptFn<number>;
  parleyMarkRead: ScriptFn<number>;
  parleyHydrateReads: ScriptFn<number>;
  parleyUnreadTotal: ScriptFn<[number, number]>;
  parleyUnreadMentions: ScriptFn<Array<string | string[]>>;
  parleyPresenceHeartbeat: ScriptFn<1>;
}

export type ScriptedRedis = Redis & ParleyScripts;

// `numberOfKeys` undefined: the caller passes the key count first (scripts with an optional outbox).
const SCRIPTS: Record<keyof ParleyScripts, { numberOfKeys?: number; lua: string }> = {
  parleyAppendMessage: { lua: APPEND_MESSAGE },
  parleyReplaceMessage: { lua: REPLACE_MESSAGE },
  parleyListMessages: { numberOfKeys: 2, lua: LIST_MESSAGES },
  parleyReadEvents: { numberOfKeys: 1, lua: READ_EVENTS },
  parleyRecentMessages: { numberOfKeys: 1, lua: RECENT_MESSAGES },
  parleyListSessions: { numberOfKeys: 1, lua: LIST_SESSIONS },
  parleyCreateSession: { lua: CREATE_SESSION },
  parleyUpdateSession: { lua: UPDATE_SESSION },
  parleyCreateProject: { lua: CREATE_PROJECT },
  parleyAddMember: { lua: ADD_MEMBER },
  parleyInviteMember: { numberOfKeys: 3, lua: INVITE_MEMBER },
  parleyAcceptInvite: { lua: ACCEPT_INVITE },
  parleyLeaveProject: { lua: LEAVE_PROJECT },
  parleySignUp: { numberOfKeys: 3, lua: SIGN_UP },
  parleyStartLogin: { numberOfKeys: 2, lua: START_LOGIN },
  parleyEndLogin: { lua: END_LOGIN },
  parleyHydrateMessages: { numberOfKeys: 2, lua: HYDRATE_MESSAGES },
  parleyHydrateSession: { numberOfKeys: 3, lua: HYDRATE_SESSION },
  parleyHydrateProject: { numberOfKeys: 3, lua: HYDRATE_PROJECT },
  parleyHydrateUser: { numberOfKeys: 2, lua: HYDRATE_USER },
  parleyEvictSession: { numberOfKeys: 4, lua: EVICT_SESSION },
  parleyBackfillUser: { numberOfKeys: 2, lua: BACKFILL_USER },
  parleyBackfillLogin: { numberOfKeys: 2, lua: BACKFILL_LOGIN },
  parleyBackfillProject: { numberOfKeys: 4, lua: BACKFILL_PROJECT },
  parleyBackfillMessages: { numberOfKeys: 2, lua: BACKFILL_MESSAGES },
  parleyMarkRead: { lua: MARK_READ },
  parleyHydrateReads: { numberOfKeys: 1, lua: HYDRATE_READS },
  parleyUnreadTotal: { numberOfKeys: 2, lua: UNREAD_TOTAL },
  parleyUnreadMentions: { numberOfKeys: 2, lua: UNREAD_MENTIONS },
  parleyPresenceHeartbeat: { numberOfKeys: 2, lua: PRESENCE_HEARTBEAT },
};

/**
 * Arguments for a script with an optional trailing outbox key: the key count, the keys, the outbox
 * key when the durable tier is on (else nothing), then the script's ARGV.
 */
export function withOutbox(outboxKey: string | null, scriptKeys: string[], args: Arg[]): Arg[] {
  const all = outboxKey ? [...scriptKeys, outboxKey] : scriptKeys;
  return [all.length, ...all, ...args];
}

/**
 * Arguments for `parleyAppendMessage` (the one append of a message: the send path, the AI PM's answer
 * and the legacy import all go through it), named so that no caller lays KEYS/ARGV out by hand.
 */
export function appendMessageArgs(a: {
  outboxKey: string | null;
  projectId: string;
  sessionId: string;
  id: string;
  /** The encoded stored message (codec.encodeMessage). */
  body: string;
  /** ISO-8601 creation time; also the session's last activity. */
  createdAt: string;
  eventLogMaxLen: number;
  /** User ids the message mentions (ChatStore.mentionedMembers); their mention sets get its seq. */
  mentioned?: string[];
}): Arg[] {
  const { projectId: pid, sessionId: sid } = a;
  return withOutbox(
    a.outboxKey,
    [
      keys.session(pid, sid),
      keys.messages(pid, sid),
      keys.messageIds(pid),
      keys.sessions(pid),
      keys.recent(pid),
      keys.events(pid),
      keys.project(pid),
    ],
    [
      a.id,
      a.body,
      a.createdAt,
      Date.parse(a.createdAt),
      sid,
      a.eventLogMaxLen,
      LIMITS.projectRecentMax,
      keys.wakeChannel(pid),
      pid,
      ...(a.mentioned?.length ? [mentionKeyPrefix(pid), ...a.mentioned] : []),
    ],
  );
}

/** Registers the scripts (EVALSHA with an automatic EVAL fallback after a Redis restart). */
export function defineScripts(redis: Redis): ScriptedRedis {
  for (const [name, def] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, def);
  }
  return redis as ScriptedRedis;
}
