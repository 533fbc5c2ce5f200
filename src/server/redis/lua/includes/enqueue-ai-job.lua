--[[
  Queues one AI PM reply job on the project's job stream (creating the stream and the workers' group
  on first use) and wakes the workers. Used by the append of a question and by a retry's requeue, so a
  job has one shape wherever it is made.
  Input:
    jobs      the project's AI job stream
    wake      the workers' wake channel (a plain channel: every worker process listens)
    job       {question id, session id, question seq, asker id, answer id, attempt}
    project   the project id (the wake-up's message)
]]
local function enqueueAiJob(jobs, wake, job, project)
  if redis.call('EXISTS', jobs) == 0 then redis.call('XGROUP', 'CREATE', jobs, 'ai', '0', 'MKSTREAM') end
  redis.call('XADD', jobs, '*', 'u', job[1], 's', job[2], 'q', job[3], 'a', job[4], 'm', job[5], 'n', job[6])
  redis.call('PUBLISH', wake, project)
end
