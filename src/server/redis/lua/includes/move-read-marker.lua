--- @include "append-change"
--[[
  Moves a user's read marker of one session forward to `want`, never back, with its change-feed entry
  (PostgreSQL keeps the furthest marker). Shared by mark-read-2.lua and the append of a user's own
  message (writing in a session reads it up to there), so both move markers the same way.
  Input:
    markers    the user's read markers in the project (keys.reads)
    outbox     the change feed's key, or nil (tier off)
    projectId, userId, sessionId
    want       the seq to move to
  Returns the marker after the call, and whether it moved.
]]
local function moveReadMarker(markers, outbox, projectId, userId, sessionId, want)
  local current = tonumber(redis.call('HGET', markers, sessionId) or '0')
  if want <= current then return current, false end
  redis.call('HSET', markers, sessionId, want)
  appendChange(outbox, {'k', 'read', 'p', projectId, 'u', userId, 's', sessionId, 'q', want})
  return want, true
end
