--[[
  A presence heartbeat: the user is here until ARGV[3]; sweeps members whose heartbeat expired; tells
  the project's streams (ephemeral channel, never the log).
  Input:
    KEYS[1] presence zset
    KEYS[2] presence state hash
    ARGV[1] user id
    ARGV[2] state
    ARGV[3] until (ms)
    ARGV[4] now (ms)
    ARGV[5] signal channel
    ARGV[6] project id
  Returns 1.
]]
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
  redis.call('HDEL', KEYS[2], unpack(gone))
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'presence', projectId = ARGV[6], userId = ARGV[1], state = ARGV[2], ['until'] = tonumber(ARGV[3])}))
return 1
