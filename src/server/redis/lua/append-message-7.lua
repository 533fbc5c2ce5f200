--[[
  Stores a message once per id: the next seq, the body, the counters, the session's recency, the
  project's recent list, the author's read marker and the `message.created` event (which carries only the session and seq: the
  log does not hold a second copy of the body), with its change-feed entry, in one step. A repeated id
  returns the stored message unchanged; an id used in another session is a CONFLICT. A session whose
  messages were evicted is NOT_FOUND until read-through brought them back.
  Input:
    KEYS[1] session
    KEYS[2] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[3] messageIds (the base of its buckets)
    KEYS[4] sessions zset
    KEYS[5] recent list
    KEYS[6] events
    KEYS[7] project
    KEYS[8] outbox (optional)
    ARGV[1] message id
    ARGV[2] body (the encoded stored message)
    ARGV[3] now ISO
    ARGV[4] now ms
    ARGV[5] session id
    ARGV[6] event log maxlen
    ARGV[7] recent list cap
    ARGV[8] wake channel
    ARGV[9] project id
    ARGV[10] the user whose read marker of the session moves to the new message (its author, for a
             user's own send), or '' for none
    ARGV[11] that user's read markers (keys.reads, built by the caller: same slot), or ''
    ARGV[12] mention key prefix (optional: only when the message mentions someone)
    ARGV[13..] user ids the message mentions (their mention sets of the session get the seq)
  Returns {created (1|0), seq, body, eventId|false, outboxId|false}
]]
--- @include "includes/append-message"
return appendMessage()
