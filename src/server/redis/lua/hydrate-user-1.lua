--[[
  Read-through (durable tier): brings an account's record back, into an absent record only. The
  username (another slot on a cluster) is claimed after it by HydrateRedis.user, record first as at
  sign-up: a name never points at nothing.
  Input:
    KEYS[1] user
    ARGV[1..] the record's field/value pairs
  Returns 1 when written, 0 when a record was there.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
