--[[
  Creates a session: its record, its place in the project's index, the project's activity and the
  `session.created` event with its change-feed entry.
  Input:
    KEYS[1] session
    KEYS[2] sessions zset
    KEYS[3] events
    KEYS[4] project
    KEYS[5] outbox (optional)
    ARGV[1] session id
    ARGV[2] now ms
    ARGV[3] now ISO
    ARGV[4] event log maxlen
    ARGV[5] wake channel
    ARGV[6] session JSON
    ARGV[7] project id
    ARGV[8..] the record's field/value pairs
  Returns the event id; CONFLICT when the session exists.
]]
--- @include "includes/append-event"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT session exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[4], 'lastActivityAt', ARGV[3])
local eid = appendEvent(KEYS[3], ARGV[4], ARGV[5], {'t', 'session.created', 'd', ARGV[6]},
  KEYS[5], {'k', 'session', 'p', ARGV[7], 'd', ARGV[6]})
return eid
