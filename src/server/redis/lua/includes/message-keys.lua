--- @include "message-body"
--[[
  Where message bodies and the message id index live: the Lua mirror of src/server/redis/keys.ts's
  bucket functions (messageBucketOf, messageIdBucketOf; keys.test/scripts.integration.test pin that
  both give the same answers).

  A session's bodies are split into buckets of MESSAGES_PER_BUCKET consecutive seqs, each a HASH
  `<messages key>:<n>` holding seq -> body for seqs n*128+1 .. (n+1)*128, and the project's id index
  into HASHes `<messageIds key>:<xx>`, xx the id's last two hex digits (lower-cased; any other id:
  `x`). Small hashes stay listpacks (redis.conf: hash-max-listpack-entries/-value), which store a
  field in its bytes plus a few, where one big hash pays a dict entry and two rounded-up allocations
  per field. Scripts are passed the `messages` and `messageIds` keys as the bases of their buckets:
  every bucket is built from a passed key, so it is in the same slot (the project's hash tag).

  The layout before buckets kept ONE hash under the base name itself. It is still read (body_at,
  id_at fall back to it), and a write script converts a session on first touch (upgrade_session):
  its bodies into buckets and its ids out of the old project-wide index, atomically.
]]
local MESSAGES_PER_BUCKET = 128

local function body_bucket(base, seq)
  return base .. ':' .. math.floor((tonumber(seq) - 1) / MESSAGES_PER_BUCKET)
end

local function id_bucket(base, id)
  local tail = string.sub(id, -2)
  if string.match(tail, '^%x%x$') then return base .. ':' .. string.lower(tail) end
  return base .. ':x'
end

-- Every id bucket of a project's index (256 hex ones and `x`), and its pre-bucket hash: the whole index.
local function id_index_keys(base)
  local out = {}
  for n = 0, 255 do out[#out + 1] = base .. ':' .. string.format('%02x', n) end
  out[#out + 1] = base .. ':x'
  out[#out + 1] = base
  return out
end

-- The buckets a session with seqs 1..last_seq may have, as a list of keys (empty for none).
local function body_buckets(base, last_seq)
  local out = {}
  local last = tonumber(last_seq) or 0
  if last < 1 then return out end
  for n = 0, math.floor((last - 1) / MESSAGES_PER_BUCKET) do out[#out + 1] = base .. ':' .. n end
  return out
end

-- A body by seq, or false. (Falls back to the pre-bucket hash: a session not converted yet.)
local function body_at(base, seq)
  return redis.call('HGET', body_bucket(base, seq), seq) or redis.call('HGET', base, seq)
end

-- "<sid>:<seq>" of a message id, or false.
local function id_at(base, id)
  return redis.call('HGET', id_bucket(base, id), id) or redis.call('HGET', base, id)
end

-- Removes ids from the index (both layouts).
local function id_delete(base, ids)
  for _, id in ipairs(ids) do
    redis.call('HDEL', id_bucket(base, id), id)
    redis.call('HDEL', base, id)
  end
end

-- Converts one session of the pre-bucket layout: its one bodies hash (`base`) into buckets, and the
-- index entries of its messages from the old project-wide hash (`ids_base`) into id buckets. Idempotent
-- (nothing to do once `base` is gone); O(messages of the session), once. Bodies keep the form they were
-- written in (codec.ts reads both).
local function upgrade_session(base, ids_base, sid)
  if redis.call('EXISTS', base) == 0 then return end
  local flat = redis.call('HGETALL', base)
  for i = 1, #flat, 2 do
    local seq, body = flat[i], flat[i + 1]
    redis.call('HSETNX', body_bucket(base, seq), seq, body)
    local m = decode_body(body)
    if m and type(m.id) == 'string' then
      local at = sid .. ':' .. seq
      if redis.call('HGET', ids_base, m.id) == at then
        redis.call('HSETNX', id_bucket(ids_base, m.id), m.id, at)
        redis.call('HDEL', ids_base, m.id)
      end
    end
  end
  redis.call('DEL', base)
end
