import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { createRedis } from './client';
import { keys, MESSAGE_ID_BUCKETS, messageBucketOf, messageIdBucketOf, messageIdField } from './keys';
import { deadLettersOf, outboxPartitionOf } from './outbox-partitions';
import { expandLua } from './lua/load-lua.mjs';
import { LUA_SCRIPT_DIR, scripts, type ScriptCall } from './scripts';

/**
 * The Lua layout contract: every .lua file has one typed wrapper, its header documents the keys its
 * name counts, every wrapper passes exactly those keys, and every script's keys share one slot, the
 * outbox partition it appends to included (Redis Cluster runs a script only within one slot: issue #13).
 */

type Scripts = typeof scripts;
type ArgsOf<K extends keyof Scripts> = Parameters<Scripts[K]['call']>[0];

const pid = 'p-1';
const sid = 's-1';
const OUTBOX = outboxPartitionOf(keys.project(pid));
const member = { id: 'u-1', username: 'ann' };
const write = { projectId: pid, eventLogMaxLen: 100, outbox: null };
const append = { ...write, sessionId: sid, id: 'm-1', body: '{}', createdAt: '2026-01-01T00:00:00.000Z' };
const replace = { ...write, sessionId: sid, seq: 1, expected: '{}', body: '{}', eventType: 'message.updated' as const, now: 'x' };

/** One call of every wrapper (a wrapper added without a sample fails the typecheck). */
const samples: { [K in keyof Scripts]: ArgsOf<K> } = {
  appendMessage: append,
  replaceMessage: replace,
  readEvents: { projectId: pid, after: '0-0', until: '+', count: 10 },
  listMessages: { projectId: pid, sessionId: sid, cursor: null, limit: 10 },
  readMessage: { projectId: pid, id: 'm-1' },
  recentMessages: { projectId: pid, limit: 10 },
  listSessions: { projectId: pid, limit: 10 },
  createSession: { ...write, sessionId: sid, record: { id: sid }, createdAt: append.createdAt },
  updateSession: { ...write, sessionId: sid, changes: { title: 't' } },
  createProject: { project: { id: pid, ownerId: 'u-1' }, outbox: null },
  addMember: { ...write, member, joinedAt: 1 },
  inviteMember: { projectId: pid, userId: 'u-1', invitation: {}, maxPending: 10 },
  acceptInvite: { ...write, member, joinedAt: 1 },
  leaveProject: { ...write, member, leftAt: 1 },
  signUp: { record: { id: 'u-1', username: 'ann' }, outbox: outboxPartitionOf(keys.username('ann')) },
  startLogin: {
    tokenHash: 'h', value: 'u-1 ann', ttlSeconds: 1, userId: 'u-1', username: 'ann', expiresAt: 1,
    outbox: outboxPartitionOf(keys.loginSession('h')),
  },
  endLogin: { tokenHash: 'h', now: 1, tombstone: 'x', marginMs: 1, absentTtlMs: 1, evenIfAbsent: false, outbox: null },
  hydrateMessages: { projectId: pid, sessionId: sid, messages: [{ seq: 1, id: 'm-1', body: '{}' }] },
  hydrateSession: { projectId: pid, sessionId: sid, activityMs: 1, record: { id: sid } },
  hydrateProject: { projectId: pid, memberIds: ['u-1'], recent: [], project: { id: pid } },
  hydrateUser: { record: { id: 'u-1', username: 'ann' } },
  evictSession: { projectId: pid, sessionId: sid, cutoff: 'x', maxScan: 1, outbox: OUTBOX, deadLetters: deadLettersOf(OUTBOX) },
  retireLegacyOutbox: {},
  backfillUser: { key: keys.user('u-1'), outbox: outboxPartitionOf(keys.user('u-1')) },
  backfillLogin: { key: keys.loginSession('h'), tokenHash: 'h', outbox: outboxPartitionOf(keys.loginSession('h')) },
  backfillProject: { projectId: pid, outbox: OUTBOX },
  backfillMessages: { projectId: pid, sessionId: sid, from: 1, to: 2, outbox: OUTBOX },
  markRead: { projectId: pid, sessionId: sid, userId: 'u-1', seq: 1, knownLastSeq: 1, announce: true, outbox: null },
  hydrateReads: { projectId: pid, userId: 'u-1', markers: { [sid]: 1 } },
  unreadTotal: { projectId: pid, userId: 'u-1' },
  unreadMentions: { projectId: pid, userId: 'u-1', max: 10 },
  presenceHeartbeat: { projectId: pid, userId: 'u-1', state: 'active', until: 2, now: 1 },
  searchScan: { projectId: pid, sessionId: '', startKey: '', after: '', author: '', budget: 1, limit: 1, spec: '{}' },
  removeImportedSession: { projectId: pid, sessionId: sid, allowedIds: [] },
  removeImportedProject: { projectId: pid },
  aiAppendWithJob: { job: { defaultMode: 'off', mentioned: false, askerId: 'u-1', answerId: 'a-1' }, message: append },
  aiRequeue: { job: { questionId: 'q', questionSeq: 1, askerId: 'u-1', answerId: 'a-1', attempt: 2 }, replace },
  aiAcquireSlot: { projectId: pid, answerId: 'a-1', now: 1, leaseMs: 1, limit: 1 },
  aiTakeQuota: { userId: 'u-1', day: '2026-01-01', answerId: 'a-1', quota: 1, ttlSeconds: 1 },
};


interface Header {
  required: number;
  optional: string[];
}

/** The KEYS[i] (or KEYS[i..j]) lines of a script's header. */
function header(file: string): Header & { text: string } {
  const text = fs.readFileSync(path.join(LUA_SCRIPT_DIR, `${file}.lua`), 'utf8');
  const head = /^--\[\[\n([\s\S]*?)\n\]\]/.exec(text)?.[1];
  if (!head) throw new Error(`${file}.lua has no --[[ ... ]] header`);
  const indices: number[] = [];
  const optional: string[] = [];
  for (const m of head.matchAll(/^\s+KEYS\[(\d+)(?:\.\.(\d+))?\]\s+(.*)$/gm)) {
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    for (let i = from; i <= to; i++) indices.push(i);
    if (m[3]!.includes('(optional)')) optional.push(m[3]!);
  }
  expect(indices, `${file}: KEYS listed once each, in order`).toEqual(indices.map((_, i) => i + 1));
  return { required: indices.length - optional.length, optional, text: head };
}

const entries = Object.entries(scripts) as [keyof Scripts, Scripts[keyof Scripts]][];
const callOf = (name: keyof Scripts, args: unknown): ScriptCall => (scripts[name].call as (a: unknown) => ScriptCall)(args);

describe('Lua script files', () => {
  it('every .lua file has exactly one wrapper, and every wrapper a file', () => {
    const files = fs.readdirSync(LUA_SCRIPT_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort();
    expect(entries.map(([, s]) => s.file).sort()).toEqual(files);
  });

  it.each(entries.map(([name]) => name))('%s: the header matches the key count in the name and the wrapper', (name) => {
    const { file } = scripts[name];
    const count = Number(/-(\d+)$/.exec(file)?.[1]);
    const h = header(file);
    expect(h.text, `${file}: documents its reply`).toMatch(/^\s+Returns /m);
    expect(h.required, `${file}: KEYS without (optional)`).toBe(count);
    // Only the change feed may be optional, and only as the last key.
    expect(h.optional.every((k) => /^outbox \(optional\)$/.test(k))).toBe(true);
    expect(h.optional.length).toBeLessThanOrEqual(1);
    const sample = samples[name] as { outbox?: unknown; message?: { outbox: unknown }; replace?: { outbox: unknown } };
    expect(callOf(name, sample).keys).toHaveLength(count);
    if (h.optional.length === 1) {
      const withOutbox = sample.message
        ? { ...sample, message: { ...sample.message, outbox: OUTBOX } }
        : sample.replace
          ? { ...sample, replace: { ...sample.replace, outbox: OUTBOX } }
          : { ...sample, outbox: OUTBOX };
      const call = callOf(name, withOutbox);
      expect(call.keys).toHaveLength(count + 1);
      expect(call.keys.at(-1)).toBe(OUTBOX);
    }
  });

  it.each(entries.map(([name]) => name))('%s: its keys share one slot, its outbox partition included', (name) => {
    const { keys: ks } = callOf(name, samples[name]);
    // The optional feed, as the store passes it: the partition of the script's own slot.
    const withOutbox = header(scripts[name].file).optional.length === 1 ? [...ks, outboxPartitionOf(ks[0]!)] : ks;
    expect(new Set(withOutbox.map((k) => calculateSlot(k))).size, withOutbox.join(' ')).toBe(1);
  });
});

describe('Lua scripts on Redis', () => {
  // createRedis: the test Redis may be a cluster (`redis+cluster://`, the cluster pass of npm test).
  const redis = createRedis(inject('redisUrl'));
  afterAll(() => redis.quit());

  it('every script compiles (SCRIPT LOAD)', async () => {
    for (const [, { file }] of entries) {
      const lua = expandLua(path.join(LUA_SCRIPT_DIR, `${file}.lua`));
      expect(lua, `${file}: includes expanded`).not.toMatch(/^--- @include/m);
      await expect(redis.script('LOAD', lua), file).resolves.toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('puts bodies and ids in the same buckets as keys.ts (includes/message-keys.lua mirrors it)', async () => {
    const seqs = [1, 2, 127, 128, 129, 256, 257, 1000, 20_000, 1_000_001];
    const ids = ['0b7d3a52-8f43-4c1e-9a55-3d1c2b8e7f60', '0B7D3A52-8F43-4C1E-9A55-3D1C2B8E7FAB', 'm-1', 'x', 'a9', 'zz', 'idé', 'ü'];
    const lua = `${expandLua(path.join(LUA_SCRIPT_DIR, 'includes', 'message-keys.lua'))}
local out = {}
for i = 1, #ARGV do
  if i <= ${seqs.length} then out[i] = body_bucket(KEYS[1], ARGV[i]) else out[i] = id_bucket(KEYS[2], ARGV[i]) end
end
local all = id_index_keys(KEYS[2])
out[#out + 1] = cjson.encode(all)
return out`;
    const messages = keys.messages(pid, sid);
    const idBase = keys.messageIds(pid);
    const got = (await redis.eval(lua, 2, messages, idBase, ...seqs, ...ids)) as string[];
    expect(got.slice(0, seqs.length)).toEqual(seqs.map((s) => keys.messageBucket(pid, sid, messageBucketOf(s))));
    expect(got.slice(seqs.length, -1)).toEqual(ids.map((id) => keys.messageIdBucket(pid, messageIdBucketOf(id))));
    expect(JSON.parse(got.at(-1)!)).toEqual([...MESSAGE_ID_BUCKETS.map((b) => keys.messageIdBucket(pid, b)), idBase]);
    expect(seqs.map(messageBucketOf)).toEqual([0, 0, 0, 0, 1, 1, 2, 7, 156, 7812]);
  });

  it('packs ids in the index as keys.ts messageIdField does, and unpacks them back', async () => {
    const ids = [
      '0b7d3a52-8f43-4c1e-9a55-3d1c2b8e7f60', // packed
      '0B7D3A52-8F43-4C1E-9A55-3D1C2B8E7F60', // upper case: text, a different id
      '00000000-0000-4000-80ff-00000000000a', // zero bytes
      'ffffffff-ffff-4fff-bfff-fffffffffffe', // words at the top of 32 bits
      'sixteen-bytes-id', // 16 bytes of text: behind ':'
      'm-1',
      'idé',
    ];
    const lua = `${expandLua(path.join(LUA_SCRIPT_DIR, 'includes', 'message-keys.lua'))}
local out = {}
for i = 1, #ARGV do
  local f = packed_id(ARGV[i])
  out[#out + 1] = string.format(string.rep('%02x', #f), string.byte(f, 1, #f)) -- hex: the reply stays text
  out[#out + 1] = unpacked_id(f)
end
return out`;
    const got = (await redis.eval(lua, 0, ...ids)) as string[];
    ids.forEach((id, i) => {
      expect(got[2 * i], id).toBe(Buffer.from(messageIdField(id)).toString('hex'));
      expect(got[2 * i + 1], id).toBe(id);
    });
    expect(Buffer.from(messageIdField(ids[0]!)).length).toBe(16);
    expect(messageIdField(ids[4]!)).toBe(':sixteen-bytes-id');
  });
});
