--[[
  Read-through (durable tier): a project record is whole when it has its `id`. A partial one (an
  append or a session create reached an empty Redis first and left only lastActivityAt) takes
  PostgreSQL's fields, keeping the later activity time. The recent list is rebuilt when the record was
  partial (it then holds only what was appended since) or is absent: the union of its refs and
  PostgreSQL's, newest first by message time (then seq), de-duplicated and capped. A whole project's
  list is left as it is.
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] recent list
    ARGV[1] session key prefix
    ARGV[2] messages suffix
    ARGV[3] recent list cap
    ARGV[4] number of members n
    ARGV[5..n+4] member ids, then the number of recent refs r, r (ref, createdAt ISO) pairs, then the
      project's field/value pairs
  Returns 1 if the record was written or merged, 0 if it was whole.
]]
--- @include "includes/message-keys"
local n = tonumber(ARGV[4])
local r = tonumber(ARGV[n + 5])
local fields = n + 6 + 2 * r
local whole = redis.call('HEXISTS', KEYS[1], 'id') == 1
if not whole or redis.call('EXISTS', KEYS[3]) == 0 then
  local entries, seen = {}, {}
  local function add(ref, at)
    if seen[ref] then return end
    seen[ref] = true
    local sep = string.find(ref, ':', 1, true)
    entries[#entries + 1] = { ref = ref, at = at, sid = string.sub(ref, 1, sep - 1), seq = tonumber(string.sub(ref, sep + 1)) }
  end
  for _, ref in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    local sep = string.find(ref, ':', 1, true)
    local at = ''
    if sep then
      local body = body_at(ARGV[1] .. string.sub(ref, 1, sep - 1) .. ARGV[2], string.sub(ref, sep + 1))
      if body then
        local m = decode_body(body)
        if m and type(m.createdAt) == 'string' then at = m.createdAt end
      end
      add(ref, at)
    end
  end
  for i = n + 6, n + 5 + 2 * r, 2 do add(ARGV[i], ARGV[i + 1]) end
  table.sort(entries, function(a, b)
    if a.at ~= b.at then return a.at > b.at end
    if a.sid == b.sid then return a.seq > b.seq end
    return a.ref > b.ref
  end)
  redis.call('DEL', KEYS[3])
  local cap = math.min(#entries, tonumber(ARGV[3]))
  for i = 1, cap, 500 do
    local chunk = {}
    for j = i, math.min(cap, i + 499) do chunk[#chunk + 1] = entries[j].ref end
    redis.call('RPUSH', KEYS[3], unpack(chunk))
  end
end
local written = 0
if not whole then
  for i = fields, #ARGV, 2 do
    local f, v = ARGV[i], ARGV[i + 1]
    local cur = redis.call('HGET', KEYS[1], f)
    if f ~= 'lastActivityAt' or not cur or v > cur then redis.call('HSET', KEYS[1], f, v) end
  end
  written = 1
end
for i = 5, n + 4 do redis.call('SADD', KEYS[2], ARGV[i]) end
return written
