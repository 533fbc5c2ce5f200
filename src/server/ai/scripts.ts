import 'server-only';
import type { Redis } from 'ioredis';
import { APPEND_MESSAGE, forTopology, REPLACE_MESSAGE } from '~/server/redis/scripts';

/**
 * The AI PM's Lua scripts. The two that write a message WRAP the store's own scripts (APPEND_MESSAGE,
 * REPLACE_MESSAGE) as a local function instead of copying them: whatever the store's append checks and
 * writes (its event, its outbox entry) stays in one place, and the job is queued in the same atomic
 * call. The wrapper takes its own keys and arguments FIRST and removes them from KEYS/ARGV before the
 * wrapped script runs, so that script sees exactly the layout it documents (its optional trailing
 * outbox key included).
 *
 * A job is an entry of the project's job stream (keys.aiJobs, consumer group `ai`, same slot as the
 * project): u question id, s session id, q question seq, a asker's user id, m answer id, n attempt.
 */

/**
 * Appends a message (APPEND_MESSAGE) and, when it was new and the session's AI PM mode asks for an
 * answer, queues the reply job and wakes the workers.
 * Own KEYS: 1 jobs. Own ARGV: 1 default mode, 2 '1' if the message mentions @pm, 3 asker id,
 * 4 answer id, 5 workers' wake channel. Then APPEND_MESSAGE's KEYS and ARGV.
 * Returns APPEND_MESSAGE's reply.
 */
const APPEND_WITH_JOB = `
local jobs = table.remove(KEYS, 1)
local default_mode = table.remove(ARGV, 1)
local mentioned = table.remove(ARGV, 1)
local asker = table.remove(ARGV, 1)
local answer = table.remove(ARGV, 1)
local wake = table.remove(ARGV, 1)
local function append()
${APPEND_MESSAGE}
end
local r = append()
if type(r) ~= 'table' or r.err or r[1] ~= 1 then return r end
local mode = default_mode
local meta = redis.call('HGET', KEYS[1], 'metadata')
if meta then
  local ok, m = pcall(cjson.decode, meta)
  if ok and type(m) == 'table' and type(m.aiPm) == 'string' then mode = m.aiPm end
end
if mode == 'always' or (mode == 'mention' and mentioned == '1') then
  if redis.call('EXISTS', jobs) == 0 then redis.call('XGROUP', 'CREATE', jobs, 'ai', '0', 'MKSTREAM') end
  redis.call('XADD', jobs, '*', 'u', ARGV[1], 's', ARGV[5], 'q', r[2], 'a', asker, 'm', answer, 'n', '1')
  redis.call('PUBLISH', wake, ARGV[9])
end
return r
`;

/**
 * Retry: swaps the failed answer's body for its reset (REPLACE_MESSAGE, compare-and-set, with its
 * event and outbox entry) and, if the swap happened, queues the job again with the next attempt.
 * Own KEYS: 1 jobs. Own ARGV: 1 wake channel, 2 question id, 3 question seq, 4 asker id, 5 answer id,
 * 6 attempt. Then REPLACE_MESSAGE's KEYS and ARGV.
 * Returns the event id, or false when the body changed meanwhile.
 */
const REQUEUE = `
local jobs = table.remove(KEYS, 1)
local wake = table.remove(ARGV, 1)
local question = table.remove(ARGV, 1)
local qseq = table.remove(ARGV, 1)
local asker = table.remove(ARGV, 1)
local answer = table.remove(ARGV, 1)
local attempt = table.remove(ARGV, 1)
local function replace()
${REPLACE_MESSAGE}
end
local r = replace()
if not r or type(r) == 'table' then return r end
if redis.call('EXISTS', jobs) == 0 then redis.call('XGROUP', 'CREATE', jobs, 'ai', '0', 'MKSTREAM') end
redis.call('XADD', jobs, '*', 'u', question, 's', ARGV[5], 'q', qseq, 'a', asker, 'm', answer, 'n', attempt)
redis.call('PUBLISH', wake, ARGV[9])
return r
`;

/**
 * A slot among the project's running generations: expired leases go first; an answer that holds a
 * slot renews it. KEYS: 1 running zset. ARGV: 1 now ms, 2 lease ms, 3 limit, 4 answer id
 * Returns 1 (holds a slot) or 0 (the project is at its limit).
 */
const ACQUIRE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], expiry, ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], expiry, ARGV[4])
return 1
`;

/**
 * The asker's daily quota, counted per answer (a retried or reclaimed answer counts once).
 * KEYS: 1 quota hash. ARGV: 1 answer id, 2 quota, 3 ttl seconds
 * Returns 1 (within quota) or 0 (over it; nothing counted).
 */
const TAKE_QUOTA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`;

type Arg = string | number;
type ScriptFn<R> = (...args: Arg[]) => Promise<R>;

export interface AiScripts {
  parleyAiAppendWithJob: ScriptFn<[0 | 1, number, string | null, string | null, string | null]>;
  parleyAiRequeue: ScriptFn<string | null>;
  parleyAiAcquireSlot: ScriptFn<0 | 1>;
  parleyAiTakeQuota: ScriptFn<0 | 1>;
}

const DEFS: Record<keyof AiScripts, { numberOfKeys?: number; lua: string }> = {
  parleyAiAppendWithJob: { lua: APPEND_WITH_JOB },
  parleyAiRequeue: { lua: REQUEUE },
  parleyAiAcquireSlot: { numberOfKeys: 1, lua: ACQUIRE_SLOT },
  parleyAiTakeQuota: { numberOfKeys: 1, lua: TAKE_QUOTA },
};

const defined = new WeakSet<Redis>();

/** The AI scripts on this connection (defined on first use; EVALSHA with EVAL fallback, as the store's). */
export function aiScripts(redis: Redis): Redis & AiScripts {
  if (!defined.has(redis)) {
    // forTopology: the wrapped store scripts publish the project's wake-up with WAKE.
    for (const [name, def] of Object.entries(DEFS)) redis.defineCommand(name, { ...def, lua: forTopology(redis, def.lua) });
    defined.add(redis);
  }
  return redis as Redis & AiScripts;
}

/**
 * Prefixes a wrapped script's arguments (as withOutbox built them: key count, keys, ARGV) with the
 * wrapper's own keys and arguments.
 */
export function wrapArgs(ownKeys: string[], ownArgs: Arg[], inner: Arg[]): Arg[] {
  const count = Number(inner[0]);
  const innerKeys = inner.slice(1, 1 + count);
  const innerArgs = inner.slice(1 + count);
  return [count + ownKeys.length, ...ownKeys, ...innerKeys, ...ownArgs, ...innerArgs];
}
