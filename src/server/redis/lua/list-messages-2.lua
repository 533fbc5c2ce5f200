--[[
  One page of a session's messages, newest first: one HMGET per body bucket it spans (seqs are
  gap-free, so a page of up to 128 spans at most two).
  Input:
    KEYS[1] session
    KEYS[2] messages (the base of its buckets: includes/message-keys.lua)
    ARGV[1] cursor ('' = from the newest; else the page ends below this seq)
    ARGV[2] limit
  Returns {top seq, bodies...} with bodies from seq=top downwards (nil for none). NOT_FOUND when the
  session is not in Redis, or its messages are evicted (the durable tier reads them through).
]]
--- @include "includes/message-keys"
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastSeq') or '0')
local top = last
if ARGV[1] ~= '' then top = math.min(last, tonumber(ARGV[1]) - 1) end
if top < 1 then return {0} end
local bottom = math.max(1, top - tonumber(ARGV[2]) + 1)
local bodies = {top}
local s = top
while s >= bottom do
  local bucket = body_bucket(KEYS[2], s)
  local fields = {}
  repeat
    fields[#fields + 1] = s
    s = s - 1
  until s < bottom or body_bucket(KEYS[2], s) ~= bucket
  local got = redis.call('HMGET', bucket, unpack(fields))
  for i = 1, #fields do bodies[#bodies + 1] = got[i] end
end
-- A session not converted to buckets yet (its next write does that): its one hash.
if redis.call('EXISTS', KEYS[2]) == 1 then
  for i = 2, #bodies do
    if not bodies[i] then bodies[i] = redis.call('HGET', KEYS[2], top - i + 2) end
  end
end
return bodies
