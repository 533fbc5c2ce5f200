import 'server-only';
import type { ChainableCommander } from 'ioredis';
import { AppError, toAppError } from '~/server/errors';
import { keys, messageBuckets, messageIdBucketOf, messageIdField } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import { LIMITS } from '~/shared/limits';
import type { MessageDTO, ReactionDTO, Role } from '~/shared/types';
import { decodeMessage, encodeMessage, newMessage } from './codec';
import type { Author } from './store';
import { projectOutbox } from '~/server/redis/outbox-partitions';

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
  /** true when the durable tier is on: imports then reach PostgreSQL through the outbox like sends. */
  outbox: boolean;
}

export class ChatImport {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly opts: ImportOptions,
  ) {}

  /** Creates the project with this id unless it exists. Returns whether it was created. */
  async ensureProject(p: { id: string; name: string; owner: Author; createdAt: string }): Promise<boolean> {
    const project = { id: p.id, name: p.name, ownerId: p.owner.id, createdAt: p.createdAt, lastActivityAt: p.createdAt };
    try {
      await scripts.createProject.run(this.redis, { project, outbox: this.outboxFor(p.id) });
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
      await scripts.createSession.run(this.redis, {
        projectId: s.projectId,
        sessionId: s.id,
        record,
        createdAt: s.createdAt,
        eventLogMaxLen: this.opts.eventLogMaxLen,
        outbox: this.outboxFor(s.projectId),
      });
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
    const pipeline = this.redis.pipeline();
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
      const { created, seq, body } = scripts.appendMessage.reply(reply);
      if (body === null) throw new AppError('NOT_FOUND', 'Session not found');
      out.push({ id: m.id, outcome: created ? 'created' : 'existing', seq });
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
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hexists(keys.messageIdBucket(projectId, messageIdBucketOf(id)), messageIdField(id));
    pipeline.hmget(keys.messageIds(projectId), ...ids); // the index of the pre-bucket layout (keys.ts)
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const old = replies[ids.length]![1] as (string | null)[];
    return ids.map((_, i) => replies[i]![1] === 1 || old[i] !== null);
  }

  /** Every message stored in a session, in seq order (for comparing an import with its source). */
  async sessionMessages(projectId: string, sessionId: string): Promise<MessageDTO[]> {
    const lastSeq = Number((await this.redis.hget(keys.session(projectId, sessionId), 'lastSeq')) ?? 0);
    const pipeline = this.redis.pipeline();
    // Its buckets, and the one hash of the pre-bucket layout (a session not converted yet).
    for (const key of [keys.messages(projectId, sessionId), ...messageBuckets(projectId, sessionId, lastSeq)]) pipeline.hgetall(key);
    const stored: Record<string, string> = {};
    for (const [err, part] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      Object.assign(stored, part as Record<string, string>);
    }
    return Object.entries(stored)
      .map(([seq, body]) => decodeMessage(projectId, sessionId, Number(seq), body))
      .sort((a, b) => a.seq - b.seq);
  }

  /** See remove-imported-session-5.lua. The event log is not rewritten: readers of a removed message resync. */
  async removeImportedSession(
    projectId: string,
    sessionId: string,
    allowedIds: string[],
  ): Promise<{ removed: true; messages: number } | { removed: false; foreignId: string }> {
    return scripts.removeImportedSession.run(this.redis, { projectId, sessionId, allowedIds });
  }

  /** See remove-imported-project-6.lua; also drops it from its members' project lists. False while sessions remain. */
  async removeImportedProject(projectId: string): Promise<boolean> {
    const { removed, memberIds } = await scripts.removeImportedProject.run(this.redis, { projectId });
    if (!removed) return false;
    // Members' project indexes live in their own slots: cleaned after the project is gone.
    for (const uid of memberIds) await this.redis.zrem(keys.userProjects(uid), projectId);
    return true;
  }

  /** The outbox partition of the project's slot (null with the durable tier off). */
  private outboxFor(projectId: string): string | null {
    return this.opts.outbox ? projectOutbox(projectId) : null;
  }

  private appendTo(pipeline: ChainableCommander, m: ImportedMessage): void {
    const stored = newMessage(m);
    const { projectId: pid, sessionId: sid } = m;
    scripts.appendMessage.queue(pipeline, {
      outbox: this.outboxFor(pid),
      projectId: pid,
      sessionId: sid,
      id: m.id,
      body: encodeMessage(stored),
      createdAt: m.createdAt,
      eventLogMaxLen: this.opts.eventLogMaxLen,
    });
  }
}
