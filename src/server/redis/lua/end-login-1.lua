--[[
  Sign-out. The login's key is not deleted but overwritten with a revocation tombstone that outlives
  the login (its time left plus a margin): with the durable tier on, "absent" means "Redis lost it,
  read it through from PostgreSQL", and PostgreSQL only learns of the sign-out once the consumer
  persists the logout entry appended here, atomically with the tombstone. A key that is absent gets a
  tombstone (with the longest login life) only when the caller asks for it (it knows the login may be
  live elsewhere); otherwise an unknown token stores nothing. Used with the tier off too (no outbox).
  Input:
    KEYS[1] login session
    KEYS[2] outbox (optional)
    ARGV[1] token hash
    ARGV[2] now ms
    ARGV[3] tombstone value
    ARGV[4] margin ms
    ARGV[5] ttl ms for an absent key
    ARGV[6] '1' = tombstone an absent key too
  Returns 1 signed out now, 0 absent (nothing written), 2 already signed out (nothing written).
]]
--- @include "includes/append-change"
local current = redis.call('GET', KEYS[1])
if current == ARGV[3] then return 2 end
local ttl
if current then
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[5]) else ttl = ttl + tonumber(ARGV[4]) end
elseif ARGV[6] == '1' then
  ttl = tonumber(ARGV[5])
else
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
appendChange(KEYS[2], {'k', 'logout', 'h', ARGV[1], 'at', ARGV[2]})
return 1
