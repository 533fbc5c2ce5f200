--[[
  A user's unread messages in one project: the sum over its sessions of lastSeq - lastRead (seqs are
  gap-free), and among them those that mention the user (ZCOUNT of the user's mention set of each
  session after the marker). Sessions whose hash is absent (evicted to the durable tier: idle) count
  as read.
  Input:
    KEYS[1] sessions zset
    KEYS[2] the user's read markers
    ARGV[1] session key prefix
    ARGV[2] the user's mention key prefix (prefix .. session id is keys.mentions)
  Returns {unread, mentions}.
]]
local total, mentions = 0, 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local last = tonumber(redis.call('HGET', ARGV[1] .. sid, 'lastSeq') or '0')
  local read = tonumber(redis.call('HGET', KEYS[2], sid) or '0')
  if last > read then
    total = total + last - read
    mentions = mentions + redis.call('ZCOUNT', ARGV[2] .. sid, '(' .. read, '+inf')
  end
end
return {total, mentions}
