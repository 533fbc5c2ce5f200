--[[
  Creates a project with its owner as the only member (no event: nobody can watch it yet), with its
  change-feed entry.
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] outbox (optional)
    ARGV[1] owner id
    ARGV[2] project JSON
    ARGV[3..] the project's field/value pairs
  Returns 1; CONFLICT when the project exists.
]]
--- @include "includes/append-change"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('PARLEY_CONFLICT project exists')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[1])
appendChange(KEYS[3], {'k', 'project', 'd', ARGV[2]})
return 1
