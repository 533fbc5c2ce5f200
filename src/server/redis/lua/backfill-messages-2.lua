--[[
  Backfill (see backfill-user-2.lua): the bodies of one session's seqs from..to.
  Input:
    KEYS[1] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[2] outbox
    ARGV[1] project id
    ARGV[2] session id
    ARGV[3] from seq
    ARGV[4] to seq
  Returns how many were appended.
]]
--- @include "includes/message-keys"
local n = 0
for s = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  local body = body_at(KEYS[1], s)
  if body then
    redis.call('XADD', KEYS[2], '*', 'k', 'message', 'p', ARGV[1], 's', ARGV[2], 'q', s, 'd', body)
    n = n + 1
  end
end
return n
