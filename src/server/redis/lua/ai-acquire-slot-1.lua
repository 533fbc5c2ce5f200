--[[
  AI PM: a slot among the project's running generations: expired leases go first; an answer that
  holds a slot renews it.
  Input:
    KEYS[1] running zset
    ARGV[1] now ms
    ARGV[2] lease ms
    ARGV[3] limit
    ARGV[4] answer id
  Returns 1 (holds a slot) or 0 (the project is at its limit).
]]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], expiry, ARGV[4])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], expiry, ARGV[4])
return 1
