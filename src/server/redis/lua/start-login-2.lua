--[[
  Starts a login with the durable tier on: the login key and its change-feed entry in one step.
  Input:
    KEYS[1] login session
    KEYS[2] outbox
    ARGV[1] value "<uid> <username>"
    ARGV[2] ttl seconds
    ARGV[3] token hash
    ARGV[4] user id
    ARGV[5] username
    ARGV[6] expires at (ms)
  Returns 1.
]]
--- @include "includes/append-change"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
appendChange(KEYS[2], {'k', 'login', 'h', ARGV[3], 'u', ARGV[4], 'n', ARGV[5], 'x', ARGV[6]})
return 1
