--[[
  Changes a session's fields and announces its new state (`session.updated`, with its change-feed
  entry).
  Input:
    KEYS[1] session
    KEYS[2] events
    KEYS[3] outbox (optional)
    ARGV[1] event log maxlen
    ARGV[2] wake channel
    ARGV[3] project id
    ARGV[4..] field/value pairs to set
  Returns {eventId, flat HGETALL of the updated session}; NOT_FOUND when there is no session.
]]
--- @include "includes/append-event"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND session')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
local flat = redis.call('HGETALL', KEYS[1])
local record = {}
for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
record.evicted = nil
local json = cjson.encode(record)
local eid = appendEvent(KEYS[2], ARGV[1], ARGV[2], {'t', 'session.updated', 'd', json},
  KEYS[3], {'k', 'session', 'p', ARGV[3], 'd', json})
return {eid, flat}
