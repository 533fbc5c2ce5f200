--[[
  Legacy import: removes a project an import created, once it has no session left.
  Input:
    KEYS[1] project
    KEYS[2] members
    KEYS[3] sessions zset
    KEYS[4] messageIds (the base of its buckets: includes/message-keys.lua)
    KEYS[5] recent list
    KEYS[6] events
  Returns {1, member ids} or {0} while sessions remain.
]]
--- @include "includes/message-keys"
if redis.call('ZCARD', KEYS[3]) > 0 then return {0} end
local members = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6])
redis.call('DEL', unpack(id_index_keys(KEYS[4])))
return {1, members}
