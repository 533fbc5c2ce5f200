--[[
  A project's sessions with their records, most recent activity first.
  Input:
    KEYS[1] sessions zset
    ARGV[1] session key prefix
    ARGV[2] limit
  Returns {sid, flat HGETALL, sid, flat HGETALL, ...} (an empty HGETALL: the session's record is not
  in Redis).
]]
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, sid in ipairs(ids) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. sid)
end
return out
