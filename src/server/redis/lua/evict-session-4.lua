--[[
  Idle eviction (durable tier): evicts one idle session's messages from Redis (its body buckets). Its
  record stays, marked `evicted`, with its place in the project's session index (so listing sessions,
  with their counters, needs nothing back), as do the message id index and the recent list; message
  reads and writes see the mark and read the messages through, which removes it. Only while every
  change of the session is persisted: no entry for it in the outbox (entries leave it only once
  persisted) nor among the dead letters, and no change since the cutoff. Atomic with respect to every
  write, which appends to the outbox in its own script. The outbox and dead letters are the partition
  of the project's slot (src/server/redis/outbox-partitions.ts): one slot, on a cluster too.
  Input:
    KEYS[1] session
    KEYS[2] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[3] outbox
    KEYS[4] dead letters
    ARGV[1] project id
    ARGV[2] session id
    ARGV[3] cutoff (ISO: no change after it)
    ARGV[4] most stream entries to scan
  Returns 1 evicted; 0 not (wholly) in Redis, or evicted already; -1 changed since the cutoff; -2 a
  stream too long to scan (the consumer lags: try later); -3 a change not persisted yet.
]]
--- @include "includes/message-keys"
if redis.call('HEXISTS', KEYS[1], 'id') == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then return 0 end
if (redis.call('HGET', KEYS[1], 'updatedAt') or '') > ARGV[3] then return -1 end
local most = tonumber(ARGV[4])
for k = 3, 4 do
  if redis.call('XLEN', KEYS[k]) > most then return -2 end
  for _, entry in ipairs(redis.call('XRANGE', KEYS[k], '-', '+')) do
    local f, flat = {}, entry[2]
    for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
    if f.s == ARGV[2] then return -3 end
    if f.k == 'session' and f.p == ARGV[1] and f.d and string.find(f.d, ARGV[2], 1, true) then return -3 end
  end
end
local drop = body_buckets(KEYS[2], redis.call('HGET', KEYS[1], 'lastSeq'))
drop[#drop + 1] = KEYS[2] -- the one hash of a session not converted to buckets
for i = 1, #drop, 1000 do redis.call('DEL', unpack(drop, i, math.min(i + 999, #drop))) end
redis.call('HSET', KEYS[1], 'evicted', '1')
return 1
