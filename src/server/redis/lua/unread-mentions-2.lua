--[[
  A user's unread mentions in one project, per session: the seqs after the user's marker, oldest first.
  Input:
    KEYS[1] sessions zset
    KEYS[2] the user's read markers
    ARGV[1] the user's mention key prefix (prefix .. session id is keys.mentions)
    ARGV[2] most seqs per session
  Returns {sid, {seq, ...}, sid, {seq, ...}, ...} for the sessions with any.
]]
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local read = redis.call('HGET', KEYS[2], sid) or '0'
  local seqs = redis.call('ZRANGEBYSCORE', ARGV[1] .. sid, '(' .. read, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
  if #seqs > 0 then
    out[#out + 1] = sid
    out[#out + 1] = seqs
  end
end
return out
