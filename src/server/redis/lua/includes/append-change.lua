--[[
  Appends one change to the change feed (the outbox stream the durable tier persists from), when the
  caller passed its key: with the tier off the key is absent and nothing is written. Every write that
  the tier must see calls this in the SAME script as the write, so a change and its feed entry land
  together or not at all.
  Input:
    outbox   the feed's key, or nil (tier off)
    fields   the entry's field/value list ({'k', kind, 'p', project id, ...})
  Returns the entry id, or false without a feed.
]]
local function appendChange(outbox, fields)
  if not outbox then return false end
  return redis.call('XADD', outbox, '*', unpack(fields))
end
