--[[
  Legacy import: removes a session an import created, whole, if every message in it is one of the
  allowed ids (checked in the same script, so a message someone sends meanwhile keeps the session).
  Input:
    KEYS[1] session
    KEYS[2] messages
    KEYS[3] messageIds
    KEYS[4] sessions zset
    KEYS[5] recent list
    ARGV[1] session id
    ARGV[2..] allowed message ids
  Returns {1, removed count} or {0, the first id not allowed}.
]]
local allowed = {}
for i = 2, #ARGV do allowed[ARGV[i]] = true end
local bodies = redis.call('HVALS', KEYS[2])
local ids = {}
for _, b in ipairs(bodies) do
  local id = cjson.decode(b).id
  if not allowed[id] then return {0, id} end
  ids[#ids + 1] = id
end
for i = 1, #ids, 1000 do
  redis.call('HDEL', KEYS[3], unpack(ids, i, math.min(i + 999, #ids)))
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[4], ARGV[1])
local prefix = ARGV[1] .. ':'
for _, r in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
  if string.sub(r, 1, #prefix) == prefix then redis.call('LREM', KEYS[5], 0, r) end
end
return {1, #ids}
