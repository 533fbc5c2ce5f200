--[[
  Signs a user up with the durable tier on: the unique name, the record and the change-feed entry in
  one step. (With the tier off, AuthService uses plain commands.) Spans the user, username and outbox
  keys: standalone Redis only (issue #13).
  Input:
    KEYS[1] user
    KEYS[2] username
    KEYS[3] outbox
    ARGV[1] user id
    ARGV[2] user JSON (with the password hash)
    ARGV[3..] the record's field/value pairs
  Returns 1, or 0 when the username is taken (nothing written).
]]
--- @include "includes/append-change"
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
appendChange(KEYS[3], {'k', 'user', 'd', ARGV[2]})
return 1
