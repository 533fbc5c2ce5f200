--[[
  A member leaves (`member.removed`, with its change-feed entry). The owner may leave only as the last
  member (there is no transfer).
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] left members
    KEYS[4] events
    KEYS[5] outbox (optional)
    ARGV[1] user id
    ARGV[2] member JSON
    ARGV[3] event log maxlen
    ARGV[4] wake channel
    ARGV[5] project id
    ARGV[6] now (ms)
  Returns 1. Not a member: NOT_FOUND project (as for a project that does not exist); the owner while
  others remain: CONFLICT.
]]
--- @include "includes/append-event"
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('HGET', KEYS[1], 'ownerId') == ARGV[1] and redis.call('SCARD', KEYS[2]) > 1 then
  return redis.error_reply('PARLEY_CONFLICT the owner cannot leave while other members remain')
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
appendEvent(KEYS[4], ARGV[3], ARGV[4], {'t', 'member.removed', 'd', ARGV[2]},
  KEYS[5], {'k', 'member_removed', 'p', ARGV[5], 'u', ARGV[1], 'at', ARGV[6]})
return 1
