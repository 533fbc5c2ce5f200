--[[
  Deletes the single outbox of earlier releases once it is drained: no entries left AND nothing pending
  in any consumer group (an entry delivered to a consumer that crashed is still to be reclaimed). Checked
  and deleted in one step, so an entry appended by a straggling old-release writer is never deleted with
  it: it either lands before (the stream is not empty: kept) or after (it recreates the stream, which the
  consumers find again and drain from its start).
  Input:
    KEYS[1] the legacy outbox stream
  Returns 1 deleted, 0 kept (absent, holding entries, or with entries pending).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  for i = 1, #group, 2 do
    if group[i] == 'pending' and tonumber(group[i + 1]) > 0 then return 0 end
  end
end
redis.call('DEL', KEYS[1])
return 1
