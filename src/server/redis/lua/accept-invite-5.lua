--[[
  Accepts an invitation: takes it, adds the member and appends `member.added` (with its change-feed
  entry), in one step.
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] invites
    KEYS[4] left members
    KEYS[5] events
    KEYS[6] outbox (optional)
    ARGV[1] user id
    ARGV[2] member JSON
    ARGV[3] event log maxlen
    ARGV[4] wake channel
    ARGV[5] project id
    ARGV[6] joined at (ms)
  Returns 1 joined, 0 already a member (a repeated accept). No invitation: NOT_FOUND.
]]
--- @include "includes/append-event"
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
appendEvent(KEYS[5], ARGV[3], ARGV[4], {'t', 'member.added', 'd', ARGV[2]},
  KEYS[6], {'k', 'member', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6]})
return 1
