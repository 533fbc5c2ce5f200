--[[
  The project's newest messages across sessions, newest first. A ref whose body is absent (its
  session left Redis: idle eviction, or lost data) is skipped, and its session id reported.
  Input:
    KEYS[1] recent list
    ARGV[1] limit
    ARGV[2] session key prefix
    ARGV[3] messages suffix
  Returns {{sid, seq, body, sid, seq, body, ...}, {session ids with absent bodies}}
]]
--- @include "includes/message-keys"
local refs = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out, missing, seen = {}, {}, {}
for _, ref in ipairs(refs) do
  local sep = string.find(ref, ':', 1, true)
  local sid = string.sub(ref, 1, sep - 1)
  local seq = string.sub(ref, sep + 1)
  local body = body_at(ARGV[2] .. sid .. ARGV[3], seq)
  if body then
    out[#out + 1] = sid
    out[#out + 1] = seq
    out[#out + 1] = body
  elseif not seen[sid] then
    seen[sid] = true
    missing[#missing + 1] = sid
  end
end
return {out, missing}
