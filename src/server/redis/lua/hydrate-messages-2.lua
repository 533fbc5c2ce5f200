--[[
  Read-through (durable tier): copies a chunk of a session's messages back from PostgreSQL into a Redis
  that lost them. Fills only what is absent, keeping whatever a racing live write put there;
  appends no event and no change-feed entry (the data came from PostgreSQL). A session's bodies go in
  first and its record last (hydrate-session-3): the record is what makes the session readable.
  Input:
    KEYS[1] messages (the base of its buckets: includes/message-keys.lua)
    KEYS[2] messageIds (the base of its buckets)
    ARGV[1] session id
    ARGV[2..] (seq, message id, body) triples
  Returns 1.
]]
--- @include "includes/message-keys"
-- Bodies go into buckets; one still in a session of the pre-bucket layout stays where it is (a body is
-- never in both places).
upgrade_session(KEYS[1], KEYS[2], ARGV[1])
for i = 2, #ARGV, 3 do
  if not body_at(KEYS[1], ARGV[i]) then redis.call('HSET', body_bucket(KEYS[1], ARGV[i]), ARGV[i], ARGV[i + 2]) end
  if not id_at(KEYS[2], ARGV[i + 1]) then id_set(KEYS[2], ARGV[i + 1], ARGV[1], ARGV[i]) end
end
return 1
