--[[
  Compare-and-set of one message body: the caller read `expected`, changed it in JS (JSON stays in JS,
  where it round-trips exactly), and the swap happens only if nobody changed it meanwhile; with its
  event and change-feed entry. NOT_FOUND while the session's messages are evicted (read-through is
  bringing them back).
  Input:
    KEYS[1] session
    KEYS[2] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[3] events
    KEYS[4] outbox (optional)
    ARGV[1] seq
    ARGV[2] expected body
    ARGV[3] new body
    ARGV[4] event type
    ARGV[5] session id
    ARGV[6] now ISO
    ARGV[7] event log maxlen
    ARGV[8] wake channel
    ARGV[9] project id
    ARGV[10] mention key prefix (optional: only when the text changed and mentions someone or did)
    ARGV[11] n: how many user ids follow that the old text mentioned
    ARGV[12..] n user ids the old text mentioned (they lose the seq), then those the new text mentions
  Returns the event id, or false when the body changed meanwhile (the caller re-reads and retries).
]]
--- @include "includes/replace-message"
return replaceMessage()
