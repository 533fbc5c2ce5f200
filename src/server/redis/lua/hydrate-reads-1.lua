--[[
  Re-hydration of one user's read markers in a project from PostgreSQL: each marker only moves
  forward (one that moved in Redis meanwhile stays where it is).
  Input:
    KEYS[1] the user's read markers in the project
    ARGV[1..] session id, last-read seq, session id, last-read seq, ...
  Returns how many markers moved.
]]
local moved = 0
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    moved = moved + 1
  end
end
return moved
