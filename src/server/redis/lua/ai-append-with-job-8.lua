--[[
  AI PM: appends a message exactly as append-message-7.lua does (the same include, so its checks, its
  event and its change-feed entry stay in one place) and, when it was new and the session's AI PM mode
  asks for an answer, queues the reply job and wakes the workers, in the same atomic call. Its own key
  and arguments come FIRST and are removed before the append runs, so the append sees exactly the
  layout append-message-7.lua documents (its optional trailing outbox key included).
  A job is an entry of the project's job stream (consumer group `ai`, same slot as the project):
  u question id, s session id, q question seq, a asker's user id, m answer id, n attempt.
  Input:
    KEYS[1] jobs
    KEYS[2..8] append-message-7.lua's KEYS[1..7]
    KEYS[9] outbox (optional)
    ARGV[1] default mode
    ARGV[2] '1' if the message mentions @pm
    ARGV[3] asker id
    ARGV[4] answer id
    ARGV[5] workers' wake channel
    ARGV[6..] append-message-7.lua's ARGV (1..11, then its optional mention arguments)
  Returns append-message-7.lua's reply.
]]
local jobs = table.remove(KEYS, 1)
local default_mode = table.remove(ARGV, 1)
local mentioned = table.remove(ARGV, 1)
local asker = table.remove(ARGV, 1)
local answer = table.remove(ARGV, 1)
local wake = table.remove(ARGV, 1)
--- @include "includes/append-message"
--- @include "includes/enqueue-ai-job"
local r = appendMessage()
if type(r) ~= 'table' or r.err or r[1] ~= 1 then return r end
local mode = default_mode
local meta = redis.call('HGET', KEYS[1], 'metadata')
if meta then
  local ok, m = pcall(cjson.decode, meta)
  if ok and type(m) == 'table' and type(m.aiPm) == 'string' then mode = m.aiPm end
end
if mode == 'always' or (mode == 'mention' and mentioned == '1') then
  enqueueAiJob(jobs, wake, {ARGV[1], ARGV[5], r[2], asker, answer, '1'}, ARGV[9])
end
return r
