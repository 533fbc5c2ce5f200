--[[
  Reads the event log after a position, resolving message events' bodies, in one round trip.
  (XINFO runs only for a reader at 0-0, i.e. once per tail of a brand-new project's log.)
  Input:
    KEYS[1] events
    ARGV[1] after id ('0-0' = from the start)
    ARGV[2] until id
    ARGV[3] count
    ARGV[4] session key prefix
    ARGV[5] messages suffix
  Returns false when the after id is no longer in the log (trimmed, or the log was reset), else the
  entries as XRANGE gives them, message events completed with `d` (the message's current state - a
  reader may see a newer state than the event announced, never an older one). A body that is gone
  (its session left Redis) is left out; the reader must then resync.
]]
--- @include "includes/message-keys"
local start = '-'
if ARGV[1] ~= '0-0' then
  if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
  start = '(' .. ARGV[1]
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  -- A reader at 0-0 saw an empty log; if anything was trimmed since, it missed that. (Redis 7.0's
  -- max-deleted-entry-id ignores MAXLEN trimming, so compare the counts.)
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local added, length = 0, 0
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] end
    if info[i] == 'length' then length = info[i + 1] end
  end
  if added > length then return false end
end
local entries = redis.call('XRANGE', KEYS[1], start, ARGV[2], 'COUNT', tonumber(ARGV[3]))
for _, entry in ipairs(entries) do
  local f = entry[2]
  if f[3] == 's' and f[5] == 'q' and f[7] == nil then
    local body = body_at(ARGV[4] .. f[4] .. ARGV[5], f[6])
    if body then
      f[7] = 'd'
      f[8] = body
    end
  end
end
return entries
