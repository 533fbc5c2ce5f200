--[[
  Backfill (switching the durable tier on for a Redis that already holds data): reads the CURRENT
  state of a record and appends it to the outbox in the same call, so any later change of it lands in
  the outbox after it (with a newer version). Re-running is harmless (same state, newer id).
  This one: the account (with its hash).
  Input:
    KEYS[1] user
    KEYS[2] outbox
  Returns 1, or 0 if absent.
]]
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return 0 end
local r = {}
for i = 1, #f, 2 do r[f[i]] = f[i + 1] end
if not r.id or not r.username or not r.passwordHash then return 0 end
redis.call('XADD', KEYS[2], '*', 'k', 'user', 'd', cjson.encode({
  id = r.id, username = r.username, passwordHash = r.passwordHash, createdAt = r.createdAt }))
return 1
