--[[
  Moves a user's read marker of one session forward, never back, and never past the session's last
  seq; tells that user's streams (and only theirs) on their signal channel; with the durable tier on,
  appends the move to the change feed (PostgreSQL keeps the furthest marker: unread counts survive a
  Redis that lost them).
  Input:
    KEYS[1] the user's read markers in the project
    KEYS[2] session
    KEYS[3] outbox (optional)
    ARGV[1] session id
    ARGV[2] seq
    ARGV[3] last seq when the session hash is absent (evicted)
    ARGV[4] user signal channel
    ARGV[5] project id
    ARGV[6] '1' to publish the change ('0' when the user's own message.created already tells their tabs)
    ARGV[7] user id
  Returns the marker after the call.
]]
--- @include "includes/move-read-marker"
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeq') or ARGV[3])
local marker, moved = moveReadMarker(KEYS[1], KEYS[3], ARGV[5], ARGV[7], ARGV[1], math.min(tonumber(ARGV[2]), last))
if moved and ARGV[6] == '1' then redis.call('PUBLISH', ARGV[4], cjson.encode({type = 'read.updated', projectId = ARGV[5], sessionId = ARGV[1], lastRead = marker})) end
return marker
