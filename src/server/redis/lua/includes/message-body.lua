-- Reading a stored message body (JSON) in Lua: the mirror of src/server/chat/codec.ts's format, where
-- the field table lives. Bodies are written with one-letter names (`i` id, `a` authorId, `n`
-- authorName, `c` content, `t` createdAt, `d` deleted, ...); bodies written before the letters use the
-- full names (`id`, `createdAt`, ...) and both are read here, so data already in Redis stays readable.

-- The letter of each full field name that a script reads.
local BODY_LETTER = { id = 'i', authorId = 'a', authorName = 'n', content = 'c', createdAt = 't', deleted = 'd' }

-- The body decoded, with those fields under their full names whichever form it was written in; nil
-- when it is not a JSON object.
local function decode_body(body)
  local ok, m = pcall(cjson.decode, body)
  if not ok or type(m) ~= 'table' then return nil end
  if m.id == nil then
    for full, letter in pairs(BODY_LETTER) do
      if m[full] == nil then m[full] = m[letter] end
    end
  end
  return m
end

-- The body's createdAt without decoding it: a string match on the top-level key. Both forms write it
-- before any nested object (metadata, aiResponse, reactions), and JSON escapes quotes inside strings, so
-- the first match is the top-level key and never message text. nil when absent.
local function body_created_at(body)
  if string.sub(body, 1, 6) == '{"id":' then return string.match(body, '"createdAt":"([^"]*)"') end
  return string.match(body, '"t":"([^"]*)"')
end
