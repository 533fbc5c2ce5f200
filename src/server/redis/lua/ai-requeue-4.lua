--[[
  AI PM retry: swaps the failed answer's body for its reset exactly as replace-message-3.lua does
  (compare-and-set, with its event and change-feed entry) and, if the swap happened, queues the job
  again with the next attempt. Its own key and arguments come FIRST and are removed before the swap
  runs (see ai-append-with-job-8.lua).
  Input:
    KEYS[1] jobs
    KEYS[2..4] replace-message-3.lua's KEYS[1..3]
    KEYS[5] outbox (optional)
    ARGV[1] workers' wake channel
    ARGV[2] question id
    ARGV[3] question seq
    ARGV[4] asker id
    ARGV[5] answer id
    ARGV[6] attempt
    ARGV[7..] replace-message-3.lua's ARGV (1..9; the requeue passes no mention arguments: its text is reset)
  Returns the event id, or false when the body changed meanwhile.
]]
local jobs = table.remove(KEYS, 1)
local wake = table.remove(ARGV, 1)
local question = table.remove(ARGV, 1)
local qseq = table.remove(ARGV, 1)
local asker = table.remove(ARGV, 1)
local answer = table.remove(ARGV, 1)
local attempt = table.remove(ARGV, 1)
--- @include "includes/replace-message"
--- @include "includes/enqueue-ai-job"
local r = replaceMessage()
if not r or type(r) == 'table' then return r end
enqueueAiJob(jobs, wake, {question, ARGV[5], qseq, asker, answer, attempt}, ARGV[9])
return r
