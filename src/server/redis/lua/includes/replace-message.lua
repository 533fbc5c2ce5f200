--- @include "append-event"
--- @include "message-keys"
--[[
  Compare-and-set of one message body, as a function so that the AI PM's retry (which also queues a
  job) runs exactly this. Reads KEYS and ARGV as laid out in replace-message-3.lua's header.
  Returns the event id, or false when the body changed meanwhile.
]]
local function replaceMessage()
  if redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
    return redis.error_reply('PARLEY_NOT_FOUND session')
  end
  -- In place: in its bucket, or in the one hash of a session not converted yet (its next append
  -- converts it whole, ids included: this script has no id index key).
  local bucket = body_bucket(KEYS[2], ARGV[1])
  local current = redis.call('HGET', bucket, ARGV[1])
  if not current then
    current = redis.call('HGET', KEYS[2], ARGV[1])
    if current then bucket = KEYS[2] end
  end
  if current ~= ARGV[2] then return false end
  redis.call('HSET', bucket, ARGV[1], ARGV[3])
  redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
  -- The text changed: who the old text mentioned lose the seq, who the new one mentions get it.
  if ARGV[10] then
    local removed = tonumber(ARGV[11])
    for i = 12, 11 + removed do redis.call('ZREM', ARGV[10] .. ARGV[i] .. ':' .. ARGV[5], ARGV[1]) end
    for i = 12 + removed, #ARGV do redis.call('ZADD', ARGV[10] .. ARGV[i] .. ':' .. ARGV[5], ARGV[1], ARGV[1]) end
  end
  local eid = appendEvent(KEYS[3], ARGV[7], ARGV[8], {'t', ARGV[4], 's', ARGV[5], 'q', ARGV[1]},
    KEYS[4], {'k', 'message', 'p', ARGV[9], 's', ARGV[5], 'q', ARGV[1], 'd', ARGV[3]})
  return eid
end
