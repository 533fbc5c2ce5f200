--[[
  Read-through (durable tier): brings an account back, into an absent record only. Spans the user and
  username keys (two slots on a cluster: issue #13).
  Input:
    KEYS[1] user
    KEYS[2] username
    ARGV[1] user id
    ARGV[2..] the record's field/value pairs
  Returns 1 when the username now names this user, 0 when another user holds it.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
if redis.call('GET', KEYS[2]) == ARGV[1] then return 1 end
return 0
