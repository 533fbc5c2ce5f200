--[[
  Adds a member and announces it (`member.added`, with its change-feed entry).
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] events
    KEYS[4] outbox (optional)
    ARGV[1] user id
    ARGV[2] member JSON
    ARGV[3] event log maxlen
    ARGV[4] wake channel
    ARGV[5] project id
    ARGV[6] joined at (ms)
  Returns 1 if added, 0 if already a member; NOT_FOUND when there is no project.
]]
--- @include "includes/append-event"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
appendEvent(KEYS[3], ARGV[3], ARGV[4], {'t', 'member.added', 'd', ARGV[2]},
  KEYS[4], {'k', 'member', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6]})
return 1
