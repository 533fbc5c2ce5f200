import 'server-only';
import path from 'node:path';
import type { ChainableCommander, Redis } from 'ioredis';
import { LIMITS } from '~/shared/limits';
import { keys, mentionKeyPrefix, MESSAGES_SUFFIX, sessionKeyPrefix } from './keys';
import { forTopology, loadLuaScripts } from './lua/load-lua.mjs';

/**
 * Every chat write is ONE Lua script: the data change, its counters, the event that announces it and
 * its change-feed (outbox) entry land together or not at all (a crash can never leave a message
 * without its event, or the reverse). Reads that need two dependent steps are scripts too, so a page
 * costs one round trip.
 *
 * The Lua lives in ./lua/, one file per script named with its key count (`append-message-7.lua`), each
 * with a header listing its KEYS, ARGV and reply; the tail shared by every write (event + optional
 * outbox entry + wake-up) is ./lua/includes/append-event.lua (see ./lua/load-lua.mjs for the layout
 * and the include syntax). This module reads them once, and gives each script ONE typed wrapper:
 * named arguments in, a typed result out. Callers never lay out KEYS/ARGV by hand, so a swapped
 * argument is a type error, not a corrupted record.
 *
 * Conventions: domain failures are raised as `PARLEY_<CODE> <detail>` error replies, which callers
 * turn into typed errors (toAppError). Event entries are `t` (type) and `d` (JSON data) - except
 * message events, which carry only `s` (session id) and `q` (seq): the body is read from the
 * session's body buckets when the log is read (read-events-1.lua), so the log does not hold a second
 * copy of every message. Every event-appending script PUBLISHes the new entry id on the project's wake
 * channel, so per-process tails read the log at once instead of polling it.
 *
 * Publishing on a project's own channels (wake-ups, typing/presence signals) goes through `WAKE`, a
 * local that defineScripts puts in front of every script: `PUBLISH` on a standalone Redis, `SPUBLISH`
 * on a Redis Cluster (sharded pub/sub: the channel carries the project's hash tag, so it lies in the
 * script's own slot, and the message reaches only that shard's subscribers instead of every node).
 * Global and per-user channels (read markers, sign-outs, the AI workers' wake-up) keep plain PUBLISH,
 * which a cluster delivers everywhere; they carry few messages.
 *
 * The outbox (durable tier): a write takes the outbox stream as an OPTIONAL last key. When the caller
 * passes it (`outbox`, chosen by the store), the script appends the change there too, atomically with
 * the change; when the tier is off it is null and nothing is written there.
 */

/**
 * The folder of the .lua files. Resolved from the working directory, like migrations/: the server runs
 * from the project root (`next start`, `next dev`, vitest, the worker), and Next's bundle has no
 * usable import.meta.dirname. next.config.ts traces the files into the build.
 */
const LUA_DIR = path.join(process.cwd(), 'src', 'server', 'redis', 'lua');

/** The scripts' Lua, read once when the server starts (file name without .lua -> expanded Lua). */
const SOURCES: Map<string, string> = loadLuaScripts(LUA_DIR);

export type ScriptedRedis = Redis;

type Arg = string | number;

/** One call's KEYS and ARGV, as the wrapper lays them out. */
export interface ScriptCall {
  keys: string[];
  args: Arg[];
}

export interface LuaScript<A, R> {
  /** The script's file in ./lua/, without `.lua`. */
  readonly file: string;
  /** The KEYS and ARGV of one call (the optional outbox key included when given). */
  call(a: A): ScriptCall;
  run(redis: Redis, a: A): Promise<R>;
  /** Adds the call to a pipeline or MULTI made from a connection of createRedis; read it with `reply`. */
  queue(pipeline: ChainableCommander, a: A): void;
  /** The typed result of one raw reply (for a queued call). */
  reply(raw: unknown): R;
}

const commandName = (file: string) => `lua:${file}`;
const defined = new WeakSet<object>();

type Command = (...args: Arg[]) => Promise<unknown>;

function command(target: object, file: string): Command {
  const fn = (target as Record<string, unknown>)[commandName(file)];
  if (typeof fn !== 'function') {
    throw new Error(`Lua script ${file} is not defined on this connection (pipelines must come from a connection of createRedis)`);
  }
  return fn.bind(target) as Command;
}

/**
 * Registers every script on a connection (EVALSHA with an automatic EVAL fallback after a Redis
 * restart). createRedis does it; `run` does it on first use for any other connection.
 */
export function defineScripts(redis: Redis): ScriptedRedis {
  if (defined.has(redis)) return redis;
  // No fixed key count: the wrapper passes it (scripts with the optional outbox take n or n + 1 keys).
  for (const [file, lua] of SOURCES) redis.defineCommand(commandName(file), { lua: forTopology(lua, redis.isCluster) });
  defined.add(redis);
  return redis;
}

/** The scripts that only read: no WAIT for replicas after them on a cluster (see replicateWrites). */
const READ_ONLY_FILES: ReadonlySet<string> = new Set([
  'list-messages-2',
  'read-message-1',
  'read-events-1',
  'recent-messages-1',
  'list-sessions-1',
  'unread-total-2',
  'search-scan-1',
]);

/** The command names of the scripts that write (a cluster client WAITs for a replica after them). */
export function writeScriptCommands(): string[] {
  return [...SOURCES.keys()].filter((file) => !READ_ONLY_FILES.has(file)).map(commandName);
}

function script<A, R>(
  file: string,
  layout: (a: A) => { keys: string[]; outbox?: string | null; args: Arg[] },
  reply: (raw: unknown) => R,
): LuaScript<A, R> {
  if (!SOURCES.has(file)) throw new Error(`no Lua script ${file}.lua in ${LUA_DIR}`);
  const call = (a: A): ScriptCall => {
    const l = layout(a);
    return { keys: l.outbox ? [...l.keys, l.outbox] : l.keys, args: l.args };
  };
  return {
    file,
    call,
    reply,
    async run(redis, a) {
      const c = call(a);
      return reply(await command(defineScripts(redis), file)(c.keys.length, ...c.keys, ...c.args));
    },
    queue(pipeline, a) {
      const c = call(a);
      void command(pipeline, file)(c.keys.length, ...c.keys, ...c.args);
    },
  };
}

const asNumber = (raw: unknown) => Number(raw);
const asStringOrNull = (raw: unknown) => (typeof raw === 'string' ? raw : null);

function flatToRecord(flat: unknown): Record<string, string> {
  const list = flat as string[];
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i]!] = list[i + 1]!;
  return record;
}

/** What every write that appends an event needs besides its own data. */
interface EventWrite {
  projectId: string;
  eventLogMaxLen: number;
  /** The outbox stream (durable tier on) or null: the script then writes nothing there. */
  outbox: string | null;
}

// ---------------------------------------------------------------- messages

export interface AppendMessageArgs extends EventWrite {
  sessionId: string;
  id: string;
  /** The encoded stored message (codec.encodeMessage). */
  body: string;
  /** ISO-8601 creation time; also the session's last activity. */
  createdAt: string;
  /** User ids the message mentions (src/shared/mentions.ts): each one's mention set of the session gets its seq. */
  mentioned?: string[];
  /** The user whose read marker moves to the new message in the same step (the author of a user's send). */
  readBy?: string;
}

export interface AppendMessageReply {
  /** false when the id had been stored before: the stored body is returned, nothing changed. */
  created: boolean;
  seq: number;
  /** null when the id is indexed but its session's bodies are not in Redis (evicted, lost). */
  body: string | null;
  eventId: string | null;
  outboxId: string | null;
}

function appendMessageLayout(a: AppendMessageArgs) {
  const { projectId: pid, sessionId: sid } = a;
  return {
    keys: [
      keys.session(pid, sid),
      keys.messages(pid, sid),
      keys.messageIds(pid),
      keys.sessions(pid),
      keys.recent(pid),
      keys.events(pid),
      keys.project(pid),
    ],
    outbox: a.outbox,
    args: [
      a.id,
      a.body,
      a.createdAt,
      Date.parse(a.createdAt),
      sid,
      a.eventLogMaxLen,
      LIMITS.projectRecentMax,
      keys.wakeChannel(pid),
      pid,
      a.readBy ?? '',
      a.readBy ? keys.reads(pid, a.readBy) : '',
      ...(a.mentioned?.length ? [mentionKeyPrefix(pid), ...a.mentioned] : []),
    ],
  };
}

function appendMessageReply(raw: unknown): AppendMessageReply {
  const [created, seq, body, eventId, outboxId] = raw as [number, number, string | null, string | null, string | null];
  return { created: created === 1, seq: Number(seq), body: body ?? null, eventId: eventId ?? null, outboxId: outboxId ?? null };
}

export interface ReplaceMessageArgs extends EventWrite {
  sessionId: string;
  seq: number;
  /** The body the caller read: the swap happens only if it is still there. */
  expected: string;
  body: string;
  eventType: 'message.updated' | 'message.deleted';
  /** ISO: the session's updatedAt. */
  now: string;
  /**
   * When the text changed: who the old text mentioned (their mention sets lose the seq) and who the
   * new one mentions (theirs get it).
   */
  mentions?: { removed: string[]; added: string[] };
}

function replaceMessageLayout(a: ReplaceMessageArgs) {
  const { projectId: pid, sessionId: sid } = a;
  return {
    keys: [keys.session(pid, sid), keys.messages(pid, sid), keys.events(pid)],
    outbox: a.outbox,
    args: [
      a.seq,
      a.expected,
      a.body,
      a.eventType,
      sid,
      a.now,
      a.eventLogMaxLen,
      keys.wakeChannel(pid),
      pid,
      ...(a.mentions && a.mentions.removed.length + a.mentions.added.length > 0
        ? [mentionKeyPrefix(pid), a.mentions.removed.length, ...a.mentions.removed, ...a.mentions.added]
        : []),
    ],
  };
}

/** A stream entry as XRANGE returns it: [id, [field, value, field, value, ...]]. */
export type RawStreamEntry = [id: string, fields: string[]];

export interface ScanHitReply {
  sessionId: string;
  seq: number;
  score: number;
  key: string;
  body: string;
}

/** Who asked and how the AI PM's reply job is chosen (see ai-append-with-job-8.lua). */
export interface AiJobArgs {
  defaultMode: string;
  mentioned: boolean;
  askerId: string;
  answerId: string;
}

/** Every script, by what it does. */
export const scripts = {
  appendMessage: script('append-message-7', appendMessageLayout, appendMessageReply),

  /** Returns the event id, or null when the body changed meanwhile (re-read and retry). */
  replaceMessage: script('replace-message-3', replaceMessageLayout, asStringOrNull),

  /** null when `after` is no longer in the log (trimmed or reset): the reader must resync. */
  readEvents: script(
    'read-events-1',
    (a: { projectId: string; after: string; until: string; count: number }) => ({
      keys: [keys.events(a.projectId)],
      args: [a.after, a.until, a.count, sessionKeyPrefix(a.projectId), MESSAGES_SUFFIX],
    }),
    (raw) => (raw ?? null) as RawStreamEntry[] | null,
  ),

  /** The page's bodies from seq `top` downwards. */
  listMessages: script(
    'list-messages-2',
    (a: { projectId: string; sessionId: string; cursor: number | null; limit: number }) => ({
      keys: [keys.session(a.projectId, a.sessionId), keys.messages(a.projectId, a.sessionId)],
      args: [a.cursor ?? '', a.limit],
    }),
    (raw) => {
      const [top, ...bodies] = raw as [number, ...(string | null)[]];
      return { top: Number(top), bodies };
    },
  ),

  /**
   * A message by id: where the id index puts it and its body (null: the body is not in Redis, e.g. its
   * session was evicted); null when the id is not indexed.
   */
  readMessage: script(
    'read-message-1',
    (a: { projectId: string; id: string }) => ({
      keys: [keys.messageIds(a.projectId)],
      args: [a.id, sessionKeyPrefix(a.projectId), MESSAGES_SUFFIX],
    }),
    (raw) => {
      if (!Array.isArray(raw)) return null;
      const [sessionId, seq, body] = raw as [string, number, string | null];
      return { sessionId: String(sessionId), seq: Number(seq), body: typeof body === 'string' ? body : null };
    },
  ),

  /** Newest first; `missingSessions`: sessions whose bodies the recent list names but Redis lacks. */
  recentMessages: script(
    'recent-messages-1',
    (a: { projectId: string; limit: number }) => ({
      keys: [keys.recent(a.projectId)],
      args: [a.limit, sessionKeyPrefix(a.projectId), MESSAGES_SUFFIX],
    }),
    (raw) => {
      const [flat, missingSessions] = raw as [string[], string[]];
      const messages: { sessionId: string; seq: number; body: string }[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) messages.push({ sessionId: flat[i]!, seq: Number(flat[i + 1]), body: flat[i + 2]! });
      return { messages, missingSessions };
    },
  ),

  /** Most recent activity first; an empty record: the index names a session Redis does not hold. */
  listSessions: script(
    'list-sessions-1',
    (a: { projectId: string; limit: number }) => ({
      keys: [keys.sessions(a.projectId)],
      args: [sessionKeyPrefix(a.projectId), a.limit],
    }),
    (raw) => {
      const flat = raw as Array<string | string[]>;
      const out: { sessionId: string; record: Record<string, string> }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ sessionId: flat[i] as string, record: flatToRecord(flat[i + 1]) });
      return out;
    },
  ),

  // -------------------------------------------------------------- sessions

  /** Returns the event id; CONFLICT when the session exists. */
  createSession: script(
    'create-session-4',
    (a: EventWrite & { sessionId: string; record: Record<string, string>; /** ISO: also the project's activity */ createdAt: string }) => ({
      keys: [keys.session(a.projectId, a.sessionId), keys.sessions(a.projectId), keys.events(a.projectId), keys.project(a.projectId)],
      outbox: a.outbox,
      args: [
        a.sessionId,
        Date.parse(a.createdAt),
        a.createdAt,
        a.eventLogMaxLen,
        keys.wakeChannel(a.projectId),
        JSON.stringify(a.record),
        a.projectId,
        ...Object.entries(a.record).flat(),
      ],
    }),
    String,
  ),

  /** Sets `changes` on the session; returns its whole record after the change. */
  updateSession: script(
    'update-session-2',
    (a: EventWrite & { sessionId: string; changes: Record<string, string> }) => ({
      keys: [keys.session(a.projectId, a.sessionId), keys.events(a.projectId)],
      outbox: a.outbox,
      args: [a.eventLogMaxLen, keys.wakeChannel(a.projectId), a.projectId, ...Object.entries(a.changes).flat()],
    }),
    (raw) => {
      const [eventId, flat] = raw as [string, string[]];
      return { eventId, record: flatToRecord(flat) };
    },
  ),

  // -------------------------------------------------------------- projects and members

  /** CONFLICT when the project exists. */
  createProject: script(
    'create-project-2',
    (a: { project: { id: string; ownerId: string } & Record<string, string>; outbox: string | null }) => ({
      keys: [keys.project(a.project.id), keys.members(a.project.id)],
      outbox: a.outbox,
      args: [a.project.ownerId, JSON.stringify(a.project), ...Object.entries(a.project).flat()],
    }),
    () => undefined,
  ),

  /** true if added, false if already a member. */
  addMember: script(
    'add-member-3',
    (a: EventWrite & { member: { id: string; username: string }; joinedAt: number }) => ({
      keys: [keys.project(a.projectId), keys.members(a.projectId), keys.events(a.projectId)],
      outbox: a.outbox,
      args: [a.member.id, JSON.stringify(a.member), a.eventLogMaxLen, keys.wakeChannel(a.projectId), a.projectId, a.joinedAt],
    }),
    (raw) => raw === 1,
  ),

  inviteMember: script(
    'invite-member-3',
    (a: { projectId: string; userId: string; invitation: Record<string, unknown>; maxPending: number }) => ({
      keys: [keys.project(a.projectId), keys.members(a.projectId), keys.invites(a.projectId)],
      args: [a.userId, JSON.stringify(a.invitation), a.maxPending],
    }),
    (raw): 'invited' | 'already_member' => (raw === 1 ? 'invited' : 'already_member'),
  ),

  /** true joined, false already a member (a repeated accept); NOT_FOUND without an invitation. */
  acceptInvite: script(
    'accept-invite-5',
    (a: EventWrite & { member: { id: string; username: string }; joinedAt: number }) => ({
      keys: [
        keys.project(a.projectId),
        keys.members(a.projectId),
        keys.invites(a.projectId),
        keys.leftMembers(a.projectId),
        keys.events(a.projectId),
      ],
      outbox: a.outbox,
      args: [a.member.id, JSON.stringify(a.member), a.eventLogMaxLen, keys.wakeChannel(a.projectId), a.projectId, a.joinedAt],
    }),
    (raw) => raw === 1,
  ),

  leaveProject: script(
    'leave-project-4',
    (a: EventWrite & { member: { id: string; username: string }; leftAt: number }) => ({
      keys: [keys.project(a.projectId), keys.members(a.projectId), keys.leftMembers(a.projectId), keys.events(a.projectId)],
      outbox: a.outbox,
      args: [a.member.id, JSON.stringify(a.member), a.eventLogMaxLen, keys.wakeChannel(a.projectId), a.projectId, a.leftAt],
    }),
    () => undefined,
  ),

  // -------------------------------------------------------------- accounts

  /**
   * Durable tier only: claims the name (the record is written before, see the script). true, or false
   * when the username is taken (nothing written).
   */
  signUp: script(
    'sign-up-2',
    (a: { record: { id: string; username: string } & Record<string, string>; outbox: string }) => ({
      keys: [keys.username(a.record.username), a.outbox],
      args: [a.record.id, JSON.stringify(a.record)],
    }),
    (raw) => raw === 1,
  ),

  /** Durable tier only. */
  startLogin: script(
    'start-login-2',
    (a: { tokenHash: string; value: string; ttlSeconds: number; userId: string; username: string; expiresAt: number; outbox: string }) => ({
      keys: [keys.loginSession(a.tokenHash), a.outbox],
      args: [a.value, a.ttlSeconds, a.tokenHash, a.userId, a.username, a.expiresAt],
    }),
    () => undefined,
  ),

  endLogin: script(
    'end-login-1',
    (a: {
      tokenHash: string;
      now: number;
      tombstone: string;
      marginMs: number;
      absentTtlMs: number;
      evenIfAbsent: boolean;
      outbox: string | null;
    }) => ({
      keys: [keys.loginSession(a.tokenHash)],
      outbox: a.outbox,
      args: [a.tokenHash, a.now, a.tombstone, a.marginMs, a.absentTtlMs, a.evenIfAbsent ? '1' : '0'],
    }),
    (raw): 'revoked' | 'absent' | 'already_revoked' => (raw === 1 ? 'revoked' : raw === 2 ? 'already_revoked' : 'absent'),
  ),

  // -------------------------------------------------------------- read-through (durable tier)

  hydrateMessages: script(
    'hydrate-messages-2',
    (a: { projectId: string; sessionId: string; messages: { seq: number; id: string; body: string }[] }) => ({
      keys: [keys.messages(a.projectId, a.sessionId), keys.messageIds(a.projectId)],
      args: [a.sessionId, ...a.messages.flatMap((m) => [m.seq, m.id, m.body])],
    }),
    () => undefined,
  ),

  /** 'written', 'messages_back' (a whole record's evicted messages are back) or 'whole' (left as it was). */
  hydrateSession: script(
    'hydrate-session-3',
    (a: { projectId: string; sessionId: string; activityMs: number; record: Record<string, string> }) => ({
      keys: [keys.session(a.projectId, a.sessionId), keys.sessions(a.projectId), keys.messages(a.projectId, a.sessionId)],
      args: [a.sessionId, a.activityMs, ...Object.entries(a.record).flat()],
    }),
    (raw): 'written' | 'messages_back' | 'whole' => (raw === 1 ? 'written' : raw === 2 ? 'messages_back' : 'whole'),
  ),

  /** true if the record was written or merged, false if it was whole. */
  hydrateProject: script(
    'hydrate-project-3',
    (a: {
      projectId: string;
      memberIds: string[];
      recent: { ref: string; createdAt: string }[];
      project: Record<string, string>;
    }) => ({
      keys: [keys.project(a.projectId), keys.members(a.projectId), keys.recent(a.projectId)],
      args: [
        sessionKeyPrefix(a.projectId),
        MESSAGES_SUFFIX,
        LIMITS.projectRecentMax,
        a.memberIds.length,
        ...a.memberIds,
        a.recent.length,
        ...a.recent.flatMap((r) => [r.ref, r.createdAt]),
        ...Object.entries(a.project).flat(),
      ],
    }),
    (raw) => raw === 1,
  ),

  /** The record only (the username is another slot: HydrateRedis.user claims it after). true when written. */
  hydrateUser: script(
    'hydrate-user-1',
    (a: { record: { id: string; username: string } & Record<string, string> }) => ({
      keys: [keys.user(a.record.id)],
      args: Object.entries(a.record).flat(),
    }),
    (raw) => raw === 1,
  ),

  // -------------------------------------------------------------- idle eviction (durable tier)

  evictSession: script(
    'evict-session-4',
    (a: { projectId: string; sessionId: string; cutoff: string; maxScan: number; outbox: string; deadLetters: string }) => ({
      keys: [keys.session(a.projectId, a.sessionId), keys.messages(a.projectId, a.sessionId), a.outbox, a.deadLetters],
      args: [a.projectId, a.sessionId, a.cutoff, a.maxScan],
    }),
    (raw) => EVICT_OUTCOMES[String(raw)] ?? 'absent',
  ),

  // -------------------------------------------------------------- outbox upkeep (durable tier)

  /** Deletes the drained legacy `parley:outbox` (no entries, nothing pending); true when it did. */
  retireLegacyOutbox: script(
    'retire-legacy-outbox-1',
    (_: Record<string, never> = {}) => ({ keys: [keys.outboxLegacy], args: [] }),
    (raw) => raw === 1,
  ),

  // -------------------------------------------------------------- backfill (durable tier)

  /** `key`: a user record's key (found by SCAN). */
  backfillUser: script(
    'backfill-user-2',
    (a: { key: string; outbox: string }) => ({ keys: [a.key, a.outbox], args: [] }),
    (raw) => raw === 1,
  ),

  /** `key`: a login session's key (found by SCAN). */
  backfillLogin: script(
    'backfill-login-2',
    (a: { key: string; tokenHash: string; outbox: string }) => ({ keys: [a.key, a.outbox], args: [a.tokenHash] }),
    (raw) => raw === 1,
  ),

  /** Returns the project's session ids. */
  backfillProject: script(
    'backfill-project-4',
    (a: { projectId: string; outbox: string }) => ({
      keys: [keys.project(a.projectId), keys.members(a.projectId), keys.sessions(a.projectId), a.outbox],
      args: [a.projectId, sessionKeyPrefix(a.projectId)],
    }),
    (raw) => raw as string[],
  ),

  /** Returns how many bodies were appended. */
  backfillMessages: script(
    'backfill-messages-2',
    (a: { projectId: string; sessionId: string; from: number; to: number; outbox: string }) => ({
      keys: [keys.messages(a.projectId, a.sessionId), a.outbox],
      args: [a.projectId, a.sessionId, a.from, a.to],
    }),
    asNumber,
  ),

  // -------------------------------------------------------------- read markers and presence

  /** Returns the marker after the call. With `outbox` (durable tier on) the move goes there too. */
  markRead: script(
    'mark-read-2',
    (a: {
      projectId: string;
      sessionId: string;
      userId: string;
      seq: number;
      knownLastSeq: number;
      announce: boolean;
      outbox: string | null;
    }) => ({
      keys: [keys.reads(a.projectId, a.userId), keys.session(a.projectId, a.sessionId)],
      outbox: a.outbox,
      args: [a.sessionId, a.seq, a.knownLastSeq, keys.userSignals(a.userId), a.projectId, a.announce ? '1' : '0', a.userId],
    }),
    asNumber,
  ),

  /** Read markers from PostgreSQL merged forward into Redis; returns how many moved. */
  hydrateReads: script(
    'hydrate-reads-1',
    (a: { projectId: string; userId: string; markers: Record<string, number> }) => ({
      keys: [keys.reads(a.projectId, a.userId)],
      args: Object.entries(a.markers).flat(),
    }),
    asNumber,
  ),

  /** The user's unread messages in the project, and among them those that mention the user. */
  unreadTotal: script(
    'unread-total-2',
    (a: { projectId: string; userId: string }) => ({
      keys: [keys.sessions(a.projectId), keys.reads(a.projectId, a.userId)],
      args: [sessionKeyPrefix(a.projectId), `${mentionKeyPrefix(a.projectId)}${a.userId}:`],
    }),
    (raw) => {
      const [unread, mentions] = raw as [number, number];
      return { unread: Number(unread), mentions: Number(mentions) };
    },
  ),

  /** Session id -> the seqs (after the user's marker, oldest first, at most `max`) that mention the user. */
  unreadMentions: script(
    'unread-mentions-2',
    (a: { projectId: string; userId: string; max: number }) => ({
      keys: [keys.sessions(a.projectId), keys.reads(a.projectId, a.userId)],
      args: [`${mentionKeyPrefix(a.projectId)}${a.userId}:`, a.max],
    }),
    (raw) => {
      const flat = raw as Array<string | string[]>;
      const out: Record<string, number[]> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = (flat[i + 1] as string[]).map(Number);
      return out;
    },
  ),

  presenceHeartbeat: script(
    'presence-heartbeat-2',
    (a: { projectId: string; userId: string; state: string; until: number; now: number }) => ({
      keys: [keys.presence(a.projectId), keys.presenceState(a.projectId)],
      args: [a.userId, a.state, a.until, a.now, keys.projectSignals(a.projectId), a.projectId],
    }),
    () => undefined,
  ),

  // -------------------------------------------------------------- search (tier off)

  searchScan: script(
    'search-scan-1',
    (a: {
      projectId: string;
      sessionId: string;
      startKey: string;
      after: string;
      author: string;
      budget: number;
      limit: number;
      /** JSON {r, x, raw}: see search-scan-1.lua */
      spec: string;
    }) => ({
      keys: [keys.sessions(a.projectId)],
      args: [sessionKeyPrefix(a.projectId), MESSAGES_SUFFIX, a.sessionId, a.startKey, a.after, a.author, a.budget, a.limit, a.spec],
    }),
    (raw) => {
      const reply = raw as (string | number)[];
      const hits: ScanHitReply[] = [];
      for (let i = 3; i + 4 < reply.length; i += 5) {
        hits.push({
          sessionId: String(reply[i]),
          seq: Number(reply[i + 1]),
          score: Number(reply[i + 2]),
          key: String(reply[i + 3]),
          body: String(reply[i + 4]),
        });
      }
      return {
        scanned: Number(reply[0]),
        stopKey: String(reply[1]),
        reason: String(reply[2]) as 'done' | 'limit' | 'budget',
        hits,
      };
    },
  ),

  // -------------------------------------------------------------- legacy import

  removeImportedSession: script(
    'remove-imported-session-5',
    (a: { projectId: string; sessionId: string; allowedIds: string[] }) => ({
      keys: [
        keys.session(a.projectId, a.sessionId),
        keys.messages(a.projectId, a.sessionId),
        keys.messageIds(a.projectId),
        keys.sessions(a.projectId),
        keys.recent(a.projectId),
      ],
      args: [a.sessionId, ...a.allowedIds],
    }),
    (raw): { removed: true; messages: number } | { removed: false; foreignId: string } => {
      const [removed, detail] = raw as [0 | 1, string | number];
      return removed === 1 ? { removed: true, messages: Number(detail) } : { removed: false, foreignId: String(detail) };
    },
  ),

  /** `memberIds`: the members of the removed project (empty when sessions remain: not removed). */
  removeImportedProject: script(
    'remove-imported-project-6',
    (a: { projectId: string }) => ({
      keys: [
        keys.project(a.projectId),
        keys.members(a.projectId),
        keys.sessions(a.projectId),
        keys.messageIds(a.projectId),
        keys.recent(a.projectId),
        keys.events(a.projectId),
      ],
      args: [],
    }),
    (raw) => {
      const [removed, members] = raw as [0 | 1, string[] | undefined];
      return { removed: removed === 1, memberIds: members ?? [] };
    },
  ),

  // -------------------------------------------------------------- AI PM

  /** appendMessage, and the reply job queued in the same call when the session's mode asks for one. */
  aiAppendWithJob: script(
    'ai-append-with-job-8',
    (a: { job: AiJobArgs; message: AppendMessageArgs }) => {
      const inner = appendMessageLayout(a.message);
      return {
        keys: [keys.aiJobs(a.message.projectId), ...inner.keys],
        outbox: inner.outbox,
        args: [a.job.defaultMode, a.job.mentioned ? '1' : '0', a.job.askerId, a.job.answerId, keys.aiWakeChannel, ...inner.args],
      };
    },
    appendMessageReply,
  ),

  /** replaceMessage, and the job queued again (next attempt) when the swap happened. */
  aiRequeue: script(
    'ai-requeue-4',
    (a: { job: { questionId: string; questionSeq: number; askerId: string; answerId: string; attempt: number }; replace: ReplaceMessageArgs }) => {
      const inner = replaceMessageLayout(a.replace);
      return {
        keys: [keys.aiJobs(a.replace.projectId), ...inner.keys],
        outbox: inner.outbox,
        args: [keys.aiWakeChannel, a.job.questionId, a.job.questionSeq, a.job.askerId, a.job.answerId, a.job.attempt, ...inner.args],
      };
    },
    asStringOrNull,
  ),

  /** true: the answer holds a slot (now renewed); false: the project is at its limit. */
  aiAcquireSlot: script(
    'ai-acquire-slot-1',
    (a: { projectId: string; answerId: string; now: number; leaseMs: number; limit: number }) => ({
      keys: [keys.aiRunning(a.projectId)],
      args: [a.now, a.leaseMs, a.limit, a.answerId],
    }),
    (raw) => raw === 1,
  ),

  /** true: within the asker's quota (this answer counted once); false: over it. */
  aiTakeQuota: script(
    'ai-take-quota-1',
    (a: { userId: string; day: string; answerId: string; quota: number; ttlSeconds: number }) => ({
      keys: [keys.aiQuota(a.userId, a.day)],
      args: [a.answerId, a.quota, a.ttlSeconds],
    }),
    (raw) => raw === 1,
  ),
};

const EVICT_OUTCOMES: Record<string, 'evicted' | 'absent' | 'changed' | 'backlog' | 'unpersisted'> = {
  '1': 'evicted',
  '0': 'absent',
  '-1': 'changed',
  '-2': 'backlog',
  '-3': 'unpersisted',
};

/** The files every script was loaded from (for the layout test). */
export const LUA_SCRIPT_DIR = LUA_DIR;
