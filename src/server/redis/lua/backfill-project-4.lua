--[[
  Backfill (see backfill-user-2.lua): the project, its members and its sessions' records.
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] sessions zset
    KEYS[4] outbox
    ARGV[1] project id
    ARGV[2] session key prefix
  Returns the session ids.
]]
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return {} end
local p = {}
for i = 1, #f, 2 do p[f[i]] = f[i + 1] end
redis.call('XADD', KEYS[4], '*', 'k', 'project', 'd', cjson.encode({
  id = p.id, name = p.name, ownerId = p.ownerId, createdAt = p.createdAt }))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000
for _, uid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('XADD', KEYS[4], '*', 'k', 'member', 'p', ARGV[1], 'u', uid, 'at', now)
end
local sids = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, sid in ipairs(sids) do
  local sf = redis.call('HGETALL', ARGV[2] .. sid)
  if #sf > 0 then
    local r = {}
    for i = 1, #sf, 2 do r[sf[i]] = sf[i + 1] end
    r.evicted = nil
    redis.call('XADD', KEYS[4], '*', 'k', 'session', 'p', ARGV[1], 'd', cjson.encode(r))
  end
end
return sids
