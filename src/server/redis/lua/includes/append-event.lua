--- @include "append-change"
--[[
  The shared tail of every write that announces itself: the event in the project's log (trimmed with
  MAXLEN ~), the change in the feed when the caller passed its key, then the wake-up that makes every
  process's tail read the log at once instead of polling it.
  Input:
    events   the project's event log key
    maxlen   the log's approximate length cap
    wake     the project's wake channel
    event    the event's field/value list ({'t', type, 'd', JSON} or {'t', type, 's', sid, 'q', seq})
    outbox   the feed's key, or nil (tier off)
    change   the feed entry's field/value list (see append-change)
  Returns the event id and the feed entry id (false without a feed).
]]
local function appendEvent(events, maxlen, wake, event, outbox, change)
  local eid = redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', unpack(event))
  local oid = appendChange(outbox, change)
  redis.call('PUBLISH', wake, eid)
  return eid, oid
end
