--[[
  Legacy import: removes a session an import created, whole, if every message in it is one of the
  allowed ids (checked in the same script, so a message someone sends meanwhile keeps the session).
  Input:
    KEYS[1] session
    KEYS[2] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[3] messageIds (the base of its buckets)
    KEYS[4] sessions zset
    KEYS[5] recent list
    ARGV[1] session id
    ARGV[2..] allowed message ids
  Returns {1, removed count} or {0, the first id not allowed}.
]]
--- @include "includes/message-keys"
local allowed = {}
for i = 2, #ARGV do allowed[ARGV[i]] = true end
local buckets = body_buckets(KEYS[2], redis.call('HGET', KEYS[1], 'lastSeq'))
buckets[#buckets + 1] = KEYS[2] -- the pre-bucket layout's one hash
local ids = {}
for _, bucket in ipairs(buckets) do
  for _, b in ipairs(redis.call('HVALS', bucket)) do
    local id = decode_body(b).id
    if not allowed[id] then return {0, id} end
    ids[#ids + 1] = id
  end
end
id_delete(KEYS[3], ids)
buckets[#buckets + 1] = KEYS[1]
for i = 1, #buckets, 1000 do redis.call('DEL', unpack(buckets, i, math.min(i + 999, #buckets))) end
redis.call('ZREM', KEYS[4], ARGV[1])
local prefix = ARGV[1] .. ':'
for _, r in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
  if string.sub(r, 1, #prefix) == prefix then redis.call('LREM', KEYS[5], 0, r) end
end
return {1, #ids}
