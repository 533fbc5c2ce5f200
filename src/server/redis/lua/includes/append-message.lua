--- @include "append-event"
--- @include "message-keys"
--- @include "move-read-marker"
--[[
  The one append of a message, as a function so that a script which does more in the same call (the
  AI PM's reply job) runs exactly this and nothing copied. It reads KEYS and ARGV as laid out in
  append-message-7.lua's header: a wrapping script removes its own keys and arguments first.
  A session whose messages were evicted (`evicted` in its record) takes no message until read-through
  brought them back: NOT_FOUND, as for a session Redis does not hold at all.
  Returns {created (1|0), seq, body, eventId|false, outboxId|false}.
]]
local function appendMessage()
  local sid, seq = id_at(KEYS[3], ARGV[1])
  if sid then
    if sid ~= ARGV[5] then
      return redis.error_reply('PARLEY_CONFLICT message id already used in another session')
    end
    return {0, seq, body_at(KEYS[2], seq), false}
  end
  if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'evicted') == 1 then
    return redis.error_reply('PARLEY_NOT_FOUND session')
  end
  upgrade_session(KEYS[2], KEYS[3], ARGV[5])
  seq = redis.call('HINCRBY', KEYS[1], 'lastSeq', 1)
  redis.call('HSET', body_bucket(KEYS[2], seq), seq, ARGV[2])
  id_set(KEYS[3], ARGV[1], ARGV[5], seq)
  redis.call('HINCRBY', KEYS[1], 'messageCount', 1)
  redis.call('HSET', KEYS[1], 'lastMessageAt', ARGV[3], 'updatedAt', ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
  redis.call('HSET', KEYS[7], 'lastActivityAt', ARGV[3])
  redis.call('LPUSH', KEYS[5], ARGV[5] .. ':' .. seq)
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[7]) - 1)
  -- The users it mentions: each one's mention set of this session gets the seq (ARGV[12] prefix).
  for i = 13, #ARGV do redis.call('ZADD', ARGV[12] .. ARGV[i] .. ':' .. ARGV[5], seq, seq) end
  local eid, oid = appendEvent(KEYS[6], ARGV[6], ARGV[8], {'t', 'message.created', 's', ARGV[5], 'q', seq},
    KEYS[8], {'k', 'message', 'p', ARGV[9], 's', ARGV[5], 'q', seq, 'd', ARGV[2]})
  -- The author's own message is never unread for them: their marker moves to it (ARGV[10], ARGV[11]),
  -- in this same step instead of a second call after the send (after the message's own feed entry).
  if ARGV[10] ~= '' then moveReadMarker(ARGV[11], KEYS[8], ARGV[9], ARGV[10], ARGV[5], seq) end
  return {1, seq, ARGV[2], eid, oid}
end
