import 'server-only';
import type { ChainableCommander } from 'ioredis';
import { AppError, toAppError } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { appendMessageArgs, withOutbox, type ScriptedRedis } from '~/server/redis/scripts';
import { LIMITS } from '~/shared/limits';
import type { MessageDTO, ReactionDTO, Role } from '~/shared/types';
import { decodeMessage, encodeMessage, type StoredMessage } from './codec';
import type { Author } from './store';

/**
 * The import entry point of the ChatStore: how history from elsewhere (the old product's Redis, old
 * browsers' storage) enters Parley. It is separate from ChatStore.appendMessage on purpose, so the
 * send path keeps its behaviour (and anything the send path triggers, such as AI replies, is not
 * triggered by imports), while using the very same atomic, idempotent append script: the seq, body,
 * counters, recency and `message.created` event (and, with the durable tier on, the outbox entry that
 * carries the message to PostgreSQL) are written in one step, and a repeated id changes nothing.
 *
 * What it adds over a send: projects and sessions with ids chosen by the caller (deterministic ids are
 * what make a rerun idempotent), and messages with their own time, author, edit state and reactions.
 */

export interface ImportedMessage {
  projectId: string;
  sessionId: string;
  id: string;
  content: string;
  author: Author;
  role: Role;
  /** ISO-8601: when the message was originally written. Also the session's recency after the import. */
  createdAt: string;
  updatedAt?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  aiResponse?: Record<string, unknown> | undefined;
  confidence?: number | undefined;
  isEdited?: boolean | undefined;
  reactions?: ReactionDTO[] | undefined;
  /**
   * A field to set in a hash in the same pipeline right BEFORE the append (a migration ledger's
   * intent record): a crash can leave an intent without its message, never a message without its intent.
   */
  intent?: { key: string; field: string; value: string } | undefined;
}

export type ImportOutcome =
  | { id: string; outcome: 'created' | 'existing'; seq: number }
  | { id: string; outcome: 'conflict'; reason: string };

export interface ImportOptions {
  eventLogMaxLen: number;
  /** The outbox stream when the durable tier is on (imports then reach PostgreSQL like sends). */
  outboxKey: string | null;
}

/**
 * Removes a session an import created, whole, if every message in it is one of `allowed` (checked in
 * the same script, so a message someone sends meanwhile keeps the session).
 * KEYS: 1 session, 2 messages, 3 messageIds, 4 sessions zset, 5 recent. ARGV: 1 session id, 2.. allowed ids
 * Returns {1, removed count} or {0, the first id not allowed}.
 */
const REMOVE_IMPORTED_SESSION = `
local allowed = {}
for i = 2, #ARGV do allowed[ARGV[i]] = true end
local bodies = redis.call('HVALS', KEYS[2])
local ids = {}
for _, b in ipairs(bodies) do
  local id = cjson.decode(b).id
  if not allowed[id] then return {0, id} end
  ids[#ids + 1] = id
end
for i = 1, #ids, 1000 do
  redis.call('HDEL', KEYS[3], unpack(ids, i, math.min(i + 999, #ids)))
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[4], ARGV[1])
local prefix = ARGV[1] .. ':'
for _, r in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
  if string.sub(r, 1, #prefix) == prefix then redis.call('LREM', KEYS[5], 0, r) end
end
return {1, #ids}
`;

/**
 * Removes a project an import created, once it has no session left.
 * KEYS: 1 project, 2 members, 3 sessions, 4 messageIds, 5 recent, 6 events
 * Returns {1, member ids} or {0} while sessions remain.
 */
const REMOVE_IMPORTED_PROJECT = `
if redis.call('ZCARD', KEYS[3]) > 0 then return {0} end
local members = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return {1, members}
`;

type ImportPipeline = ChainableCommander & {
  parleyAppendMessage(...args: (string | number)[]): ChainableCommander;
  parleyCreateSession(...args: (string | number)[]): ChainableCommander;
};

export class ChatImport {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly opts: ImportOptions,
  ) {}

  /** Creates the project with this id unless it exists. Returns whether it was created. */
  async ensureProject(p: { id: string; name: string; owner: Author; createdAt: string }): Promise<boolean> {
    const project = { id: p.id, name: p.name, ownerId: p.owner.id, createdAt: p.createdAt, lastActivityAt: p.createdAt };
    try {
      await this.redis.parleyCreateProject(
        ...withOutbox(
          this.opts.outboxKey,
          [keys.project(p.id), keys.members(p.id)],
          [p.owner.id, JSON.stringify(project), ...Object.entries(project).flat()],
        ),
      );
    } catch (err) {
      const e = toAppError(err);
      if (e instanceof AppError && e.code === 'CONFLICT') return false;
      throw e;
    }
    // The owner's project index is in the owner's slot (as in ChatStore.createProject): written second.
    await this.redis.zadd(keys.userProjects(p.owner.id), 'NX', Date.parse(p.createdAt), p.id);
    return true;
  }

  /** Creates the session with this id unless it exists. Returns whether it was created. */
  async ensureSession(s: {
    projectId: string;
    id: string;
    title: string;
    description?: string | undefined;
    createdAt: string;
    createdBy: string;
    metadata: Record<string, unknown>;
  }): Promise<boolean> {
    const record: Record<string, string> = {
      id: s.id,
      title: s.title.slice(0, LIMITS.sessionTitleMax),
      description: s.description ?? '',
      status: 'active',
      createdAt: s.createdAt,
      updatedAt: s.createdAt,
      createdBy: s.createdBy,
      metadata: JSON.stringify(s.metadata),
      messageCount: '0',
      lastSeq: '0',
    };
    try {
      await this.redis.parleyCreateSession(
        ...withOutbox(
          this.opts.outboxKey,
          [keys.session(s.projectId, s.id), keys.sessions(s.projectId), keys.events(s.projectId), keys.project(s.projectId)],
          [
            s.id,
            Date.parse(s.createdAt),
            s.createdAt,
            this.opts.eventLogMaxLen,
            keys.wakeChannel(s.projectId),
            JSON.stringify(record),
            s.projectId,
            ...Object.entries(record).flat(),
          ],
        ),
      );
    } catch (err) {
      const e = toAppError(err);
      if (e instanceof AppError && e.code === 'CONFLICT') return false;
      throw e;
    }
    return true;
  }

  /**
   * Appends messages in the given order (one pipeline: Redis runs them in order, so the seqs follow
   * the list). Each is idempotent by id: `existing` when the id was stored before in the same session,
   * `conflict` when it names a message of another session of the project. Redis being unreachable
   * throws (nothing is reported as imported unless Redis acknowledged it).
   */
  async importMessages(messages: ImportedMessage[]): Promise<ImportOutcome[]> {
    if (messages.length === 0) return [];
    const pipeline = this.redis.pipeline() as ImportPipeline;
    for (const m of messages) {
      if (m.intent) pipeline.hset(m.intent.key, m.intent.field, m.intent.value);
      this.appendTo(pipeline, m);
    }
    const results = (await pipeline.exec()) ?? [];
    const out: ImportOutcome[] = [];
    let r = 0;
    for (const m of messages) {
      if (m.intent) {
        const [err] = results[r++] ?? [new Error('missing reply')];
        if (err) throw toAppError(err);
      }
      const [err, reply] = results[r++] ?? [new Error('missing reply'), null];
      if (err) {
        const e = toAppError(err);
        if (e instanceof AppError && e.code === 'CONFLICT') {
          out.push({ id: m.id, outcome: 'conflict', reason: e.message });
          continue;
        }
        throw e;
      }
      const [created, seq, body] = reply as [0 | 1, number, string | null];
      if (body === null) throw new AppError('NOT_FOUND', 'Session not found');
      out.push({ id: m.id, outcome: created === 1 ? 'created' : 'existing', seq });
    }
    return out;
  }

  /** Whether Parley holds this project / session (a migration creates only what is absent). */
  async projectExists(projectId: string): Promise<boolean> {
    return (await this.redis.exists(keys.project(projectId))) === 1;
  }

  async sessionExists(projectId: string, sessionId: string): Promise<boolean> {
    return (await this.redis.exists(keys.session(projectId, sessionId))) === 1;
  }

  /** For each id: whether the project already holds a message with it (in any session). */
  async messagesPresent(projectId: string, ids: string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    return (await this.redis.hmget(keys.messageIds(projectId), ...ids)).map((v) => v !== null);
  }

  /** Every message stored in a session, in seq order (for comparing an import with its source). */
  async sessionMessages(projectId: string, sessionId: string): Promise<MessageDTO[]> {
    const stored = await this.redis.hgetall(keys.messages(projectId, sessionId));
    return Object.entries(stored)
      .map(([seq, body]) => decodeMessage(projectId, sessionId, Number(seq), body))
      .sort((a, b) => a.seq - b.seq);
  }

  /** See REMOVE_IMPORTED_SESSION. The event log is not rewritten: readers of a removed message resync. */
  async removeImportedSession(
    projectId: string,
    sessionId: string,
    allowedIds: string[],
  ): Promise<{ removed: true; messages: number } | { removed: false; foreignId: string }> {
    const [removed, detail] = (await this.redis.eval(
      REMOVE_IMPORTED_SESSION,
      5,
      keys.session(projectId, sessionId),
      keys.messages(projectId, sessionId),
      keys.messageIds(projectId),
      keys.sessions(projectId),
      keys.recent(projectId),
      sessionId,
      ...allowedIds,
    )) as [0 | 1, string | number];
    return removed === 1 ? { removed: true, messages: Number(detail) } : { removed: false, foreignId: String(detail) };
  }

  /** See REMOVE_IMPORTED_PROJECT; also drops it from its members' project lists. False while sessions remain. */
  async removeImportedProject(projectId: string): Promise<boolean> {
    const [removed, members] = (await this.redis.eval(
      REMOVE_IMPORTED_PROJECT,
      6,
      keys.project(projectId),
      keys.members(projectId),
      keys.sessions(projectId),
      keys.messageIds(projectId),
      keys.recent(projectId),
      keys.events(projectId),
    )) as [0 | 1, string[] | undefined];
    if (removed === 0) return false;
    // Members' project indexes live in their own slots: cleaned after the project is gone.
    for (const uid of members ?? []) await this.redis.zrem(keys.userProjects(uid), projectId);
    return true;
  }

  private appendTo(pipeline: ImportPipeline, m: ImportedMessage): void {
    const stored: StoredMessage = {
      id: m.id,
      authorId: m.author.id,
      authorName: m.author.username,
      role: m.role,
      content: m.content,
      createdAt: m.createdAt,
    };
    if (m.updatedAt && m.updatedAt !== m.createdAt) stored.updatedAt = m.updatedAt;
    if (m.metadata && Object.keys(m.metadata).length > 0) stored.metadata = m.metadata;
    if (m.aiResponse) stored.aiResponse = m.aiResponse;
    if (m.confidence !== undefined) stored.confidence = m.confidence;
    if (m.isEdited) stored.isEdited = true;
    if (m.reactions && m.reactions.length > 0) stored.reactions = m.reactions;
    const { projectId: pid, sessionId: sid } = m;
    pipeline.parleyAppendMessage(
      ...appendMessageArgs({
        outboxKey: this.opts.outboxKey,
        projectId: pid,
        sessionId: sid,
        id: m.id,
        body: encodeMessage(stored),
        createdAt: m.createdAt,
        eventLogMaxLen: this.opts.eventLogMaxLen,
      }),
    );
  }
}
