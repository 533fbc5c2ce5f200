--[[
  Invites a user: a pending invitation, no membership yet (they must accept).
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] invites
    ARGV[1] user id
    ARGV[2] invitation JSON
    ARGV[3] most pending invitations per project
  Returns 1 invited (or already invited), 0 already a member; NOT_FOUND when there is no project,
  BAD_REQUEST when too many invitations are pending.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('PARLEY_NOT_FOUND project')
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[3]) then
  return redis.error_reply('PARLEY_BAD_REQUEST this project has too many pending invitations (at most ' .. ARGV[3] .. ')')
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
