--[[
  One message by id, in one round trip: where the id index says it is, and its body.
  Input:
    KEYS[1] messageIds (the base of its buckets: includes/message-keys.lua)
    ARGV[1] message id
    ARGV[2] session key prefix
    ARGV[3] messages suffix
  Returns {session id, seq, body or false}, or false when the id is not indexed.
]]
--- @include "includes/message-keys"
local sid, seq = id_at(KEYS[1], ARGV[1])
if not sid then return false end
return {sid, seq, body_at(ARGV[2] .. sid .. ARGV[3], seq)}
