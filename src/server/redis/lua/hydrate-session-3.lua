--[[
  Read-through (durable tier): a session record is whole when it has its `id`; only then is it left as
  it is - except that its `evicted` mark goes (the caller has just copied the messages back), unless
  the messages are gone again (an eviction pass ran between the copy and this call: the next read
  copies them again). A partial hash (no id) is merged: PostgreSQL's fields fill it, counters and
  times keep the larger value.
  Input:
    KEYS[1] session
    KEYS[2] sessions zset
    KEYS[3] messages (the base of its buckets: includes/message-keys.lua)
    ARGV[1] session id
    ARGV[2] activity score (ms)
    ARGV[3..] the record's field/value pairs
  Returns 1 if written, 2 if the record was whole and its messages are back, 0 if it was whole.
]]
--- @include "includes/message-keys"
if redis.call('HEXISTS', KEYS[1], 'id') == 1 then
  if redis.call('HEXISTS', KEYS[1], 'evicted') == 0 then return 0 end
  local buckets = body_buckets(KEYS[3], redis.call('HGET', KEYS[1], 'lastSeq'))
  if #buckets > 0 then
    buckets[#buckets + 1] = KEYS[3] -- the pre-bucket layout's one hash
    local present = 0
    for i = 1, #buckets, 1000 do present = present + redis.call('EXISTS', unpack(buckets, i, math.min(i + 999, #buckets))) end
    if present == 0 then return 0 end
  end
  redis.call('HDEL', KEYS[1], 'evicted')
  return 2
end
for i = 3, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], f)
  if not cur then
    redis.call('HSET', KEYS[1], f, v)
  elseif f == 'lastSeq' or f == 'messageCount' then
    if tonumber(v) > (tonumber(cur) or 0) then redis.call('HSET', KEYS[1], f, v) end
  elseif f == 'lastMessageAt' or f == 'updatedAt' then
    if v > cur then redis.call('HSET', KEYS[1], f, v) end
  else
    redis.call('HSET', KEYS[1], f, v)
  end
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
return 1
