--[[
  One page of a session's messages, newest first, in one HMGET (seqs are gap-free).
  Input:
    KEYS[1] session
    KEYS[2] messages
    ARGV[1] cursor ('' = from the newest; else the page ends below this seq)
    ARGV[2] limit
  Returns {top seq, bodies...} with bodies from seq=top downwards (nil for none). NOT_FOUND when the
  session is not in Redis, or its messages are evicted (the durable tier reads them through).
]]
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
