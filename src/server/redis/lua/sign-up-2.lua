--[[
  Claims a username with the durable tier on: the unique name and the account's change-feed entry in
  one step. The user record (another slot on a cluster) is written BEFORE, by AuthService, as with
  the tier off: a crash in between leaves an unreachable record, never a name that points at nothing,
  and the feed entry carries the whole record, so PostgreSQL gets the account exactly when its name
  is claimed.
  Input:
    KEYS[1] username
    KEYS[2] outbox (the partition of the username's slot)
    ARGV[1] user id
    ARGV[2] user JSON (with the password hash)
  Returns 1, or 0 when the username is taken (nothing written).
]]
--- @include "includes/append-change"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
appendChange(KEYS[2], {'k', 'user', 'd', ARGV[2]})
return 1
