--[[
  Backfill (see backfill-user-2.lua): a live login, with its expiry.
  Input:
    KEYS[1] login session
    KEYS[2] outbox
    ARGV[1] token hash
  Returns 1, or 0 if absent, expired or signed out.
]]
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
-- A sign-out tombstone has no space: it is skipped (nothing to copy).
local sep = string.find(v, ' ', 1, true)
if not sep then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XADD', KEYS[2], '*', 'k', 'login', 'h', ARGV[1], 'u', string.sub(v, 1, sep - 1),
  'n', string.sub(v, sep + 1), 'x', now + ttl)
return 1
