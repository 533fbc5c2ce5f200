--- @include "message-body"
--[[
  Where message bodies and the message id index live: the Lua mirror of src/server/redis/keys.ts's
  bucket functions (messageBucketOf, messageIdBucketOf; keys.test/scripts.integration.test pin that
  both give the same answers).

  A session's bodies are split into buckets of MESSAGES_PER_BUCKET consecutive seqs, each a HASH
  `<messages key>:<n>` holding seq -> body for seqs n*128+1 .. (n+1)*128, and the project's id index
  into HASHes `<messageIds key>:<xx>`, xx the id's last two hex digits (lower-cased; any other id:
  `x`), holding packed(id) -> "<seq>:<packed(session id)>" (packed_id below: a UUID in its 16 bytes,
  not its 36 characters). Small hashes stay listpacks (redis.conf: hash-max-listpack-entries/-value),
  which store a field in its bytes plus a few, where one big hash pays a dict entry and two rounded-up
  allocations per field. Scripts are passed the `messages` and `messageIds` keys as the bases of their
  buckets: every bucket is built from a passed key, so it is in the same slot (the project's hash tag).

  The layout before buckets kept ONE hash under the base name itself. It is still read (body_at,
  id_at fall back to it), and every append or read-through of such a session converts part of it
  (upgrade_session): bodies into buckets and their ids out of the old project-wide index, atomically.
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

-- An id as the index stores it (keys.ts messageIdField): a canonical lower-case UUID packed into its 16
-- bytes; any other id as its text, behind ':' when the text is 16 bytes long itself, so a text field
-- can never equal a packed one (ids never hold ':'). Upper-case UUIDs stay text: distinct ids before
-- packing stay distinct.
local UUID = '^' .. string.rep('%x', 8) .. '%-' .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 4) .. '%-' ..
  string.rep('%x', 4) .. '%-' .. string.rep('%x', 12) .. '$'
local function packed_id(id)
  if #id == 36 and string.match(id, UUID) and not string.match(id, '%u') then
    -- Four 32-bit words (a double holds them exactly), packed big-endian by Redis's `struct` library:
    -- per-byte string work here cost ~5 us per id, a third of an append.
    return struct.pack('>I4I4I4I4', tonumber(string.sub(id, 1, 8), 16),
      tonumber(string.sub(id, 10, 13) .. string.sub(id, 15, 18), 16),
      tonumber(string.sub(id, 20, 23) .. string.sub(id, 25, 28), 16), tonumber(string.sub(id, 29, 36), 16))
  end
  if #id == 16 then return ':' .. id end
  return id
end

local function unpacked_id(field)
  if #field == 16 then
    local hex = string.format('%08x%08x%08x%08x', struct.unpack('>I4I4I4I4', field))
    return string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' .. string.sub(hex, 13, 16) .. '-' ..
      string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21, 32)
  end
  if #field == 17 and string.sub(field, 1, 1) == ':' then return string.sub(field, 2) end
  return field
end

-- A body by seq, or false. (Falls back to the pre-bucket hash: a session not converted yet.)
local function body_at(base, seq)
  return redis.call('HGET', body_bucket(base, seq), seq) or redis.call('HGET', base, seq)
end

-- Where a message id is: its session id and seq, or nil. (Falls back to the pre-bucket index, which
-- holds "<sid>:<seq>" by the id's text.)
local function id_at(base, id)
  local v = redis.call('HGET', id_bucket(base, id), packed_id(id))
  if v then
    local sep = string.find(v, ':', 1, true)
    return unpacked_id(string.sub(v, sep + 1)), tonumber(string.sub(v, 1, sep - 1))
  end
  v = redis.call('HGET', base, id)
  if v then
    local sep = string.find(v, ':', 1, true)
    return string.sub(v, 1, sep - 1), tonumber(string.sub(v, sep + 1))
  end
  return nil
end

-- Indexes a message id at (sid, seq).
local function id_set(base, id, sid, seq)
  redis.call('HSET', id_bucket(base, id), packed_id(id), seq .. ':' .. packed_id(sid))
end

-- Removes ids from the index (both layouts).
local function id_delete(base, ids)
  for _, id in ipairs(ids) do
    redis.call('HDEL', id_bucket(base, id), packed_id(id))
    redis.call('HDEL', base, id)
  end
end

-- Converts part of a session of the pre-bucket layout: up to UPGRADE_BUCKETS_PER_WRITE buckets' worth of
-- its one bodies hash (`base`) into buckets, and the index entries of those messages from the old
-- project-wide hash (`ids_base`) into id buckets, atomically within the calling write. A part at a
-- time because a whole session at once held Redis ~0.3-0.5 s per 10,000 messages on the development
-- machine; 256 messages cost a few ms, so a session of 10,000 is converted over its next ~40 writes.
-- Meanwhile every body and id is in exactly one place, and readers look in both. Idempotent; nothing
-- to do once `base` is gone (Redis deletes a hash whose last field goes). Bodies keep the form they
-- were written in (codec.ts reads both).
local UPGRADE_BUCKETS_PER_WRITE = 2

local function upgrade_session(base, ids_base, sid)
  for _ = 1, UPGRADE_BUCKETS_PER_WRITE do
    local seq = tonumber(redis.call('HRANDFIELD', base) or '')
    if not seq or seq < 1 then return end
    local n = math.floor((seq - 1) / MESSAGES_PER_BUCKET)
    local seqs = {}
    for s = n * MESSAGES_PER_BUCKET + 1, (n + 1) * MESSAGES_PER_BUCKET do seqs[#seqs + 1] = s end
    local bodies = redis.call('HMGET', base, unpack(seqs))
    local bucket = base .. ':' .. n
    for i = 1, #seqs do
      local body = bodies[i]
      if body then
        redis.call('HSETNX', bucket, seqs[i], body)
        -- The id is a body's first field in both forms; decoding the whole body is the slow way.
        local id = string.match(body, '^{"id?":"([^"\\]*)"')
        if not id then
          local m = decode_body(body)
          if m and type(m.id) == 'string' then id = m.id end
        end
        if id and redis.call('HGET', ids_base, id) == sid .. ':' .. seqs[i] then
          id_set(ids_base, id, sid, seqs[i])
          redis.call('HDEL', ids_base, id)
        end
      end
    end
    redis.call('HDEL', base, unpack(seqs))
  end
end
