import 'server-only';
import type { Redis } from 'ioredis';

/**
 * Every chat write is ONE Lua script: the data change, its counters and the event that announces it
 * land together or not at all (a crash can never leave a message without its event, or the reverse).
 * Reads that need two dependent steps are scripts too, so a page costs one round trip.
 *
 * Conventions: domain failures are raised as `PARLEY_<CODE> <detail>` error replies, which the store
 * turns into typed errors. Event entries are `t` (type), `d` (JSON data) and, for messages, `s`
 * (session id) and `q` (seq). Every event-appending script PUBLISHes the new entry id on the project's
 * wake channel, so per-process tails read the log at once instead of polling it.
 */

/**
 * KEYS: 1 session, 2 messages, 3 messageIds, 4 sessions zset, 5 recent list, 6 events, 7 project
 * ARGV: 1 id, 2 body JSON, 3 now ISO, 4 now ms, 5 session id, 6 event log maxlen, 7 recent cap,
 *       8 wake channel
 * Returns {created (1|0), seq, body, eventId|false}
 */
const APPEND_MESSAGE = `
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
if redis.call('EXISTS', KEYS[1]) == 0 then
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
local eid = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*',
  't', 'message.created', 's', ARGV[5], 'q', seq, 'd', ARGV[2])
redis.call('PUBLISH', ARGV[8], eid)
return {1, seq, ARGV[2], eid}
`;

/**
 * Compare-and-set of one message body: the caller read `expected`, changed it in JS (JSON stays in JS,
 * where it round-trips exactly), and the swap happens only if nobody changed it meanwhile.
 * KEYS: 1 session, 2 messages, 3 events
 * ARGV: 1 seq, 2 expected body, 3 new body, 4 event type, 5 session id, 6 now ISO, 7 maxlen,
 *       8 wake channel
 * Returns the event id, or false when the body changed meanwhile (the caller re-reads and retries).
 */
const REPLACE_MESSAGE = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*',
  't', ARGV[4], 's', ARGV[5], 'q', ARGV[1], 'd', ARGV[3])
redis.call('PUBLISH', ARGV[8], eid)
return eid
`;

/**
 * KEYS: 1 session, 2 messages. ARGV: 1 cursor ('' = from the newest), 2 limit
 * Returns {top seq, bodies...} with bodies from seq=top downwards (nil for none).
 */
const LIST_MESSAGES = `
if redis.call('EXISTS', KEYS[1]) == 0 then
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
 * The project's newest messages across sessions, newest first.
 * KEYS: 1 recent list. ARGV: 1 limit, 2 session key prefix, 3 messages suffix
 * Returns flat {sid, seq, body, sid, seq, body, ...}
 */
const RECENT_MESSAGES = `
local refs = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, ref in ipairs(refs) do
  local sep = string.find(ref, ':', 1, true)
  local sid = string.sub(ref, 1, sep - 1)
  local seq = string.sub(ref, sep + 1)
  local body = redis.call('HGET', ARGV[2] .. sid .. ARGV[3], seq)
  if body then
    out[#out + 1] = sid
    out[#out + 1] = seq
    out[#out + 1] = body
  end
end
return out
`;

/**
 * KEYS: 1 sessions zset. ARGV: 1 session key prefix, 2 limit
 * Returns {flat HGETALL of each session, most recent activity first}
 */
const LIST_SESSIONS = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, sid in ipairs(ids) do
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. sid)
end
return out
`;

/**
 * KEYS: 1 session, 2 sessions zset, 3 events, 4 project
 * ARGV: 1 session id, 2 now ms, 3 now ISO, 4 maxlen, 5 wake channel, 6 session JSON, 7.. field/value
 * Returns the event id.
 */
const CREATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT session exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[4], 'lastActivityAt', ARGV[3])
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
  't', 'session.created', 'd', ARGV[6])
redis.call('PUBLISH', ARGV[5], eid)
return eid
`;

/**
 * KEYS: 1 session, 2 events. ARGV: 1 maxlen, 2 wake channel, 3.. field/value pairs to set
 * Returns {eventId, flat HGETALL of the updated session}
 */
const UPDATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local flat = redis.call('HGETALL', KEYS[1])
local record = {}
for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
local eid = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*',
  't', 'session.updated', 'd', cjson.encode(record))
redis.call('PUBLISH', ARGV[2], eid)
return {eid, flat}
`;

/**
 * KEYS: 1 project, 2 members. ARGV: 1 owner id, 2.. project field/value pairs
 */
const CREATE_PROJECT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT project exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: 1 project, 2 members, 3 events. ARGV: 1 user id, 2 member JSON, 3 maxlen, 4 wake channel
 * Returns 1 if added, 0 if already a member.
 */
const ADD_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
  't', 'member.added', 'd', ARGV[2])
redis.call('PUBLISH', ARGV[4], eid)
return 1
`;

type Arg = string | number;
type ScriptFn<R> = (...args: Arg[]) => Promise<R>;

export interface ParleyScripts {
  parleyAppendMessage: ScriptFn<[0 | 1, number, string | null, string | null]>;
  parleyReplaceMessage: ScriptFn<string | null>;
  parleyListMessages: ScriptFn<[number, ...(string | null)[]]>;
  parleyRecentMessages: ScriptFn<string[]>;
  parleyListSessions: ScriptFn<string[][]>;
  parleyCreateSession: ScriptFn<string>;
  parleyUpdateSession: ScriptFn<[string, string[]]>;
  parleyCreateProject: ScriptFn<number>;
  parleyAddMember: ScriptFn<number>;
}

export type ScriptedRedis = Redis & ParleyScripts;

const SCRIPTS: Record<keyof ParleyScripts, { numberOfKeys: number; lua: string }> = {
  parleyAppendMessage: { numberOfKeys: 7, lua: APPEND_MESSAGE },
  parleyReplaceMessage: { numberOfKeys: 3, lua: REPLACE_MESSAGE },
  parleyListMessages: { numberOfKeys: 2, lua: LIST_MESSAGES },
  parleyRecentMessages: { numberOfKeys: 1, lua: RECENT_MESSAGES },
  parleyListSessions: { numberOfKeys: 1, lua: LIST_SESSIONS },
  parleyCreateSession: { numberOfKeys: 4, lua: CREATE_SESSION },
  parleyUpdateSession: { numberOfKeys: 2, lua: UPDATE_SESSION },
  parleyCreateProject: { numberOfKeys: 2, lua: CREATE_PROJECT },
  parleyAddMember: { numberOfKeys: 3, lua: ADD_MEMBER },
};

/** Registers the scripts (EVALSHA with an automatic EVAL fallback after a Redis restart). */
export function defineScripts(redis: Redis): ScriptedRedis {
  for (const [name, def] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, def);
  }
  return redis as ScriptedRedis;
}
