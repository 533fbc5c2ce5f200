// Our storage layout as the bench writes and reads it straight on Redis, and seed 000's for comparison.
//
// Our keys, bodies and script calls come from the app's own modules (src/server/redis/keys.ts, the
// message codec, the typed script wrappers of src/server/redis/scripts.ts; loaded through tsx with the
// react-server condition: see package.json's "bench" script), so the bench writes what the app writes;
// a sanity check after the first HTTP sends (checkLayout) still fails the run if the two differ.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { encodeMessage, newMessage, parseStoredMessage } from '../../../src/server/chat/codec.ts';
import { keys, MESSAGE_ID_BUCKETS, messageBuckets } from '../../../src/server/redis/keys.ts';
import { scripts } from '../../../src/server/redis/scripts.ts';
import { expandLua, forTopology } from '../../../src/server/redis/lua/load-lua.mjs';
import { repoRoot } from '../../lib/run.mjs';

export { keys as ourKeys };

/** env.EVENT_LOG_MAXLEN's default (startApp removes EVENT_LOG_MAXLEN from the app's environment). */
export const EVENT_LOG_MAXLEN = 10_000;

// Seed 000's layout, as its store_chat_message writes it (plain `{project_id}` interpolation, no
// hash-tag braces, so these keys never collide with ours).
export const seedKeys = {
  message: (/** @type {string} */ pid, /** @type {string} */ sid, /** @type {string} */ mid) =>
    `project:${pid}:sessions:${sid}:messages:${mid}`,
  list: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}:messages`,
  session: (/** @type {string} */ pid, /** @type {string} */ sid) => `project:${pid}:sessions:${sid}`,
};
export const SEED_TTL_SECONDS = 3600;

/**
 * Lua text of one of our scripts for a standalone Redis (src/server/redis/lua/<file>.lua, includes expanded and `WAKE` set by the same
 * helper the server uses): the bench runs exactly the Lua the app runs, without compiling server code.
 * @param {string} file the script's file name without `.lua`
 */
export function ourScript(file) {
  return forTopology(expandLua(path.join(repoRoot, 'src', 'server', 'redis', 'lua', `${file}.lua`)), false);
}

/** Python's datetime.isoformat() of a naive UTC datetime, as the seed writes created_at. */
export const pyIsoformat = (/** @type {string} */ iso) => iso.replace(/\.(\d{3})Z$/, '.$1000');

/**
 * json.dumps(message.dict()) of seed 000's UnifiedMessage: all its fields, Python's default
 * separators (", " and ": ").
 * @param {{ id: string, projectId: string, sessionId: string, role: string, content: string, createdAt: string }} m
 */
export function seedMessageJson(m) {
  const created = pyIsoformat(m.createdAt);
  const fields = [
    ['id', JSON.stringify(m.id)],
    ['project_id', JSON.stringify(m.projectId)],
    ['session_id', JSON.stringify(m.sessionId)],
    ['role', JSON.stringify(m.role)],
    ['content', JSON.stringify(m.content)],
    ['created_at', JSON.stringify(created)],
    ['updated_at', JSON.stringify(created)],
    ['metadata', '{}'],
    ['ai_response', 'null'],
    ['confidence', 'null'],
    ['status', '"delivered"'],
    ['is_edited', 'false'],
    ['reactions', '[]'],
  ];
  return `{${fields.map(([k, v]) => `"${k}": ${v}`).join(', ')}}`;
}

/**
 * EVALSHA arguments of our append script for a plain user message: the body the store builds
 * (codec.newMessage + encodeMessage) and the keys and arguments of the app's own typed wrapper
 * (scripts.appendMessage.call), durable tier off (no outbox key).
 * @param {{ appendSha: string, user: { id: string, username: string } }} opts
 */
export function appendArgsFor({ appendSha, user }) {
  return (/** @type {string} */ projectId, /** @type {string} */ sid, /** @type {string} */ content) => {
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    const body = encodeMessage(newMessage({ id, author: user, content, createdAt }));
    const call = scripts.appendMessage.call({ projectId, sessionId: sid, id, body, createdAt, eventLogMaxLen: EVENT_LOG_MAXLEN, outbox: null });
    return [appendSha, call.keys.length, ...call.keys, ...call.args];
  };
}

/**
 * Every stored body of a session with seqs 1..lastSeq, decoded (codec.parseStoredMessage), by seq.
 * @param {import('ioredis').Redis} redis @param {string} pid @param {string} sid @param {number} lastSeq
 */
export async function storedMessages(redis, pid, sid, lastSeq) {
  const out = [];
  for (const bucket of messageBuckets(pid, sid, lastSeq)) {
    for (const [seq, body] of Object.entries(await redis.hgetall(bucket))) {
      out.push({ seq: Number(seq), bytes: Buffer.byteLength(body), ...parseStoredMessage(body) });
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * The key of each bucket a session's message bodies are in, and of each bucket of a project's id index
 * (for MEMORY USAGE).
 */
export const bucketKeys = {
  messages: (/** @type {string} */ pid, /** @type {string} */ sid, /** @type {number} */ lastSeq) => messageBuckets(pid, sid, lastSeq),
  messageIds: (/** @type {string} */ pid) => MESSAGE_ID_BUCKETS.map((b) => keys.messageIdBucket(pid, b)),
};

/**
 * Sanity check that the app wrote what the bench expects of it (see the header): `count` bodies in
 * the session's buckets, in the app's body format, and the session's lastSeq.
 * @param {import('ioredis').Redis} redis @param {string} pid @param {string} sid @param {number} count
 */
export async function checkLayout(redis, pid, sid, count) {
  const lastSeq = Number(await redis.hget(keys.session(pid, sid), 'lastSeq'));
  const stored = await storedMessages(redis, pid, sid, count);
  const bad = stored.find((m, i) => m.seq !== i + 1 || typeof m.id !== 'string' || typeof m.content !== 'string');
  if (lastSeq !== count || stored.length !== count || bad) {
    throw new Error(
      `bench: the app's Redis layout no longer matches the bench's (lib/layout.mjs): session ${sid} has lastSeq ${lastSeq}, ` +
        `${stored.length} bodies in ${messageBuckets(pid, sid, count).length} buckets${bad ? `, seq ${bad.seq} unreadable` : ''}; expected ${count}`,
    );
  }
}
