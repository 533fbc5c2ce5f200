--[[
  Idle eviction (durable tier): evicts one idle session's messages from Redis (its bodies hash). Its
  record stays, marked `evicted`, with its place in the project's session index (so listing sessions,
  with their counters, needs nothing back), as do the message id index and the recent list; message
  reads and writes see the mark and read the messages through, which removes it. Only while every
  change of the session is persisted: no entry for it in the outbox (entries leave it only once
  persisted) nor among the dead letters, and no change since the cutoff. Atomic with respect to every
  write, which appends to the outbox in its own script. Spans the project's slot and the outbox:
  standalone Redis, like the write scripts with the tier on (issue #13).
  Input:
    KEYS[1] session
    KEYS[2] messages
    KEYS[3] outbox
    KEYS[4] dead letters
    ARGV[1] project id
    ARGV[2] session id
    ARGV[3] cutoff (ISO: no change after it)
    ARGV[4] most stream entries to scan
  Returns 1 evicted; 0 not (wholly) in Redis, or evicted already; -1 changed since the cutoff; -2 a
  stream too long to scan (the consumer lags: try later); -3 a change not persisted yet.
]]
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
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'evicted', '1')
return 1
