--[[
  AI PM: the asker's daily quota, counted per answer (a retried or reclaimed answer counts once).
  Input:
    KEYS[1] quota hash
    ARGV[1] answer id
    ARGV[2] quota
    ARGV[3] ttl seconds
  Returns 1 (within quota) or 0 (over it; nothing counted).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
