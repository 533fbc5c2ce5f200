import 'server-only';
import { randomUUID } from 'node:crypto';
import { encodeMessage, type StoredMessage } from '~/server/chat/codec';
import { toAppError } from '~/server/errors';
import { logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import { pipelineBySlot, queueReplicationWait, replicated } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import type { ChainableCommander } from 'ioredis';
import type { UserRecord } from '~/server/auth/service';
import type { StoreCommand } from '~/server/chat/store';
import type { PgStore } from './pg-store';

const log = logger('read-through');

/** Message bodies copied per script call (one round trip each). */
const MESSAGE_CHUNK = 500;

/**
 * Read-through: copies records PostgreSQL has and Redis lost (Redis restarted empty, or lost its last
 * writes) back into Redis, so the normal Redis paths serve them again - nothing a user ever saw
 * disappears. Only fills what is absent or partial (see the hydrate-*.lua scripts): a live write racing
 * with it always wins. Concurrent requests for the same record share one copy (single flight).
 */
export class Hydrator {
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly pg: PgStore,
  ) {}

  /**
   * Brings a session (all its messages, then its record) back - or, when only its messages were
   * evicted, the messages, then clears the record's `evicted` mark. False if PostgreSQL lacks it too.
   */
  async session(projectId: string, sessionId: string): Promise<boolean> {
    return (await this.sessionThen(projectId, sessionId, null)) !== null;
  }

  /**
   * session(), answering `command` (a read, or a write to the session) in the same Redis call as the
   * re-hydration's last step (a MULTI: the last chunk of bodies, the record, then the command). Null
   * if PostgreSQL lacks the session too.
   *
   * Why Redis answers, not the rows just loaded from PostgreSQL: the page or record a user gets must
   * be Redis's state, which a send or an edit may have changed while the copy ran (the copy only fills
   * what is absent; the live write wins). Built from PostgreSQL's rows, the answer would miss that
   * write - and PostgreSQL lags the outbox. Read in the MULTI, right after the copy, it cannot. A
   * write riding along is the same write its own call would be, one round trip earlier.
   *
   * A caller that finds the same session's copy under way (single flight) waits for it and then
   * reads on its own: it did no PostgreSQL work, so its miss still costs one Redis call after it.
   */
  async sessionThen<T>(projectId: string, sessionId: string, command: StoreCommand<T> | null): Promise<{ value: T } | null> {
    const running = this.inFlight.get(`s:${sessionId}`);
    if (running) {
      if (!(await running)) return null;
      return { value: command ? await command.run() : (undefined as T) };
    }
    // Joiners learn whether the copy worked, not how the command ended (that is this caller's answer).
    const copy = this.copySession(projectId, sessionId, command);
    void this.once(`s:${sessionId}`, async () => (await copy) !== null);
    const replies = await copy;
    return replies ? { value: command ? command.result(replies) : (undefined as T) } : null;
  }

  /** Brings a project back: every session, the recent list, the record, then the members. */
  async project(projectId: string): Promise<boolean> {
    return (await this.projectThen(projectId, null)) !== null;
  }

  /** project(), answering `command` in the project's re-hydration call (as sessionThen does). */
  async projectThen<T>(projectId: string, command: StoreCommand<T> | null): Promise<{ value: T } | null> {
    const running = this.inFlight.get(`p:${projectId}`);
    if (running) {
      if (!(await running)) return null;
      return { value: command ? await command.run() : (undefined as T) };
    }
    // Joiners learn whether the copy worked, not how the command ended (that is this caller's answer).
    const copy = this.copyProject(projectId, command);
    void this.once(`p:${projectId}`, async () => (await copy) !== null);
    const replies = await copy;
    return replies ? { value: command ? command.result(replies) : (undefined as T) } : null;
  }

  /**
   * Before an append to a session Redis does not have: the project first when its record is not whole
   * in Redis either (Redis lost everything: an append must not be the first thing to land in the
   * project, or it would leave a partial record and a recent list of one behind), then the session,
   * with the append (`command`) riding in its re-hydration call. Null if PostgreSQL lacks the session too.
   */
  async forAppendThen<T>(projectId: string, sessionId: string, command: StoreCommand<T> | null): Promise<{ value: T } | null> {
    const whole = await this.run(() => this.redis.hexists(keys.project(projectId), 'id'));
    if (whole === 0) await this.project(projectId);
    return this.sessionThen(projectId, sessionId, command);
  }

  /** Re-indexes a user's projects (user:<id>:projects). Returns how many entries PostgreSQL had. */
  async userProjects(userId: string): Promise<number> {
    const listed = await this.pg.projectsOfUser(userId);
    // Projects the user left whose removal PostgreSQL has not received yet stay out of the index.
    const left = await this.run(() => pipelineBySlot(this.redis, listed, (p, m) => p.sismember(keys.leftMembers(m.projectId), userId)));
    const memberships = listed.filter((_, i) => left[i]?.[1] !== 1);
    if (memberships.length === 0) return 0;
    const args = memberships.flatMap((m) => [m.joinedAtMs, m.projectId]);
    await this.run(() => this.redis.zadd(keys.userProjects(userId), 'NX', ...args));
    metrics().hydrations.inc({ kind: 'user_projects' });
    return memberships.length;
  }

  /**
   * Brings an account back (record and username: two calls, as the two are in different slots on a
   * cluster, record first). False when another account holds the name.
   */
  async user(record: UserRecord): Promise<boolean> {
    await this.run(() => scripts.hydrateUser.run(this.redis, { record: { ...record } }));
    // Claims the name unless taken, and says who holds it, in one call (SET NX GET, Redis 7.0+).
    const holder = await this.run(() => this.redis.set(keys.username(record.username), record.id, 'NX', 'GET'));
    const ok = holder === null || holder === record.id;
    metrics().hydrations.inc({ kind: 'user' });
    return ok;
  }

  /**
   * Brings a login session back with the time it has left. Only into an absent key (SET NX): a
   * sign-out tombstone, or a copy written meanwhile, stays. False when nothing was written.
   */
  async loginSession(tokenHash: string, userId: string, username: string, expiresAt: Date): Promise<boolean> {
    const ttl = Math.floor((expiresAt.getTime() - Date.now()) / 1000);
    if (ttl <= 0) return false;
    const set = await this.run(() => this.redis.set(keys.loginSession(tokenHash), `${userId} ${username}`, 'EX', ttl, 'NX'));
    if (set !== 'OK') return false;
    metrics().hydrations.inc({ kind: 'login_session' });
    return true;
  }

  // ------------------------------------------------------------------ copying

  /** The command's replies (empty without one), or null when PostgreSQL lacks the session. */
  private async copySession<T>(projectId: string, sessionId: string, command: StoreCommand<T> | null): Promise<Replies | null> {
    const snapshot = await this.pg.sessionSnapshot(projectId, sessionId);
    if (!snapshot) return null;
    const { session, lastSeq, activityMs } = snapshot;
    // Bodies first, the session record last: the record is what makes the session readable. Every
    // chunk but the last is its own call; the last one goes into the final MULTI with the record.
    let after = 0;
    let lost = 0;
    let last: { seq: number; id: string; body: string }[] = [];
    for (;;) {
      const rows = await this.pg.sessionMessages(sessionId, after, MESSAGE_CHUNK);
      const messages: { seq: number; id: string; body: string }[] = [];
      for (const r of rows) {
        // A hole in the seqs: that change never reached PostgreSQL and Redis lost it (it was still in
        // the outbox). Redis's pages need every seq, so the hole gets a deleted placeholder.
        for (let seq = after + 1; seq < r.seq; seq++, lost++) {
          messages.push({ seq, id: randomUUID(), body: encodeMessage(lostPlaceholder(r.message.createdAt)) });
        }
        messages.push({ seq: r.seq, id: r.message.id, body: encodeMessage(r.message) });
        after = r.seq;
      }
      if (rows.length < MESSAGE_CHUNK || after >= lastSeq) {
        last = messages;
        break;
      }
      await this.run(() => scripts.hydrateMessages.run(this.redis, { projectId, sessionId, messages }));
    }
    if (lost > 0) {
      metrics().hydrations.inc({ kind: 'lost_message_placeholder' }, lost);
      log.warn({ projectId, sessionId, lost }, 'messages lost with Redis replaced by deleted placeholders');
    }
    const record: Record<string, string> = {
      id: session.id,
      title: session.title,
      description: session.description ?? '',
      status: session.status,
      createdAt: session.createdAt,
      updatedAt: session.updatedAt,
      createdBy: session.createdBy,
      metadata: JSON.stringify(session.metadata),
      messageCount: String(lastSeq),
      lastSeq: String(lastSeq),
      ...(session.lastMessageAt ? { lastMessageAt: session.lastMessageAt } : {}),
    };
    const replies = await this.transaction(command, (multi) => {
      if (last.length > 0) scripts.hydrateMessages.queue(multi, { projectId, sessionId, messages: last });
      scripts.hydrateSession.queue(multi, { projectId, sessionId, activityMs, record });
    });
    const written = scripts.hydrateSession.reply(replyOf(replies[last.length > 0 ? 1 : 0]));
    if (written === 'written') {
      metrics().hydrations.inc({ kind: 'session' });
      log.info({ projectId, sessionId, messages: lastSeq }, 'session re-hydrated from PostgreSQL');
    } else if (written === 'messages_back') {
      metrics().hydrations.inc({ kind: 'session_messages' });
      log.info({ projectId, sessionId, messages: lastSeq }, 'evicted session messages re-hydrated from PostgreSQL');
    }
    return command ? replies.slice(replies.length - command.replies) : [];
  }

  /** The command's replies (empty without one), or null when PostgreSQL lacks the project. */
  private async copyProject<T>(projectId: string, command: StoreCommand<T> | null): Promise<Replies | null> {
    const snapshot = await this.pg.projectSnapshot(projectId);
    if (!snapshot) return null;
    // Which sessions Redis lacks, and who left (not brought back, even while PostgreSQL - the outbox
    // behind - still lists them): one round trip (all in the project's slot).
    const check = this.redis.pipeline();
    for (const sid of snapshot.sessionIds) check.hexists(keys.session(projectId, sid), 'id');
    check.smembers(keys.leftMembers(projectId));
    const checked = await this.exec(check);
    for (const [i, sid] of snapshot.sessionIds.entries()) {
      if (replyOf(checked[i]) === 0) await this.session(projectId, sid);
    }
    const left = new Set(replyOf(checked[snapshot.sessionIds.length]) as string[]);
    const { project, recent } = snapshot;
    const members = snapshot.members.filter((m) => !left.has(m.userId));
    const markers = await this.pg.readMarkers(projectId);
    // The record, members, recent list and read markers, then the command: one transaction.
    const replies = await this.transaction(command, (multi) => {
      scripts.hydrateProject.queue(multi, { projectId, memberIds: members.map((m) => m.userId), recent, project: { ...project } });
      // Read markers merge forward only (HYDRATE_READS): a marker that moved in Redis meanwhile stays.
      for (const [userId, sessions] of markers) scripts.hydrateReads.queue(multi, { projectId, userId, markers: sessions });
    });
    for (const entry of replies.slice(0, 1 + markers.size)) replyOf(entry);
    if (markers.size > 0) metrics().hydrations.inc({ kind: 'read_markers' }, markers.size);
    // Each member's project index lives in the member's own slot: one pipeline per slot, idempotent,
    // after the record (a listed project always has its record).
    if (members.length > 0) {
      const indexed = await this.run(() =>
        pipelineBySlot(this.redis, members, (p, m) => p.zadd(keys.userProjects(m.userId), 'NX', m.joinedAtMs, projectId)),
      );
      for (const entry of indexed) replyOf(entry);
    }
    metrics().hydrations.inc({ kind: 'project' });
    log.info({ projectId, sessions: snapshot.sessionIds.length, members: members.length }, 'project re-hydrated from PostgreSQL');
    return command ? replies.slice(replies.length - command.replies) : [];
  }

  private once(key: string, fn: () => Promise<boolean>): Promise<boolean> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = fn().finally(() => this.inFlight.delete(key));
      // Its callers see the failure through the copy's own promise.
      p.catch(() => undefined);
      this.inFlight.set(key, p);
    }
    return p;
  }

  /**
   * A re-hydration's last step and `command` in ONE round trip: a MULTI (atomic: nothing - an
   * eviction pass, a live write - runs between the copy and the command) of what `copy` queues, then
   * the command. Returns the replies inside the transaction, in order.
   *
   * Replicas (Redis Cluster): the copy itself needs no WAIT (it is PostgreSQL's data; a failover that
   * lost it copies it again on the next miss), but a write riding along gets the WAIT its `run` would
   * have (after EXEC, in the same pipeline), so an acknowledged write is on a replica either way.
   */
  private async transaction<T>(command: StoreCommand<T> | null, copy: (multi: ChainableCommander) => void): Promise<Replies> {
    const pipeline = this.redis.pipeline();
    // ioredis's Pipeline has multi() (a MULTI inside a pipeline), which its ChainableCommander type omits.
    (pipeline as ChainableCommander & { multi(): ChainableCommander }).multi();
    const first = pipeline.length;
    copy(pipeline);
    command?.queue(pipeline);
    const queued = pipeline.length - first;
    // With a MULTI open, Pipeline#exec queues the EXEC command (and returns the pipeline) instead of sending.
    void pipeline.exec();
    const waits = command?.writes === true && queueReplicationWait(this.redis, pipeline);
    const replies = await this.exec(pipeline);
    if (waits) replicated(this.redis, replies[first + queued + 1]);
    const [execError, results] = replies[first + queued] ?? [new Error('missing EXEC reply'), null];
    if (execError) throw toAppError(execError);
    if (!Array.isArray(results)) throw toAppError(new Error('the re-hydration transaction was discarded'));
    return results.map((r: unknown): [Error | null, unknown] => (r instanceof Error ? [r, null] : [null, r]));
  }

  /** A pipeline's or MULTI's replies (`[error, reply]` each); a failed EXEC or connection: typed error. */
  private async exec(pipeline: ChainableCommander): Promise<Replies> {
    const replies = await this.run(() => pipeline.exec());
    if (!replies) throw toAppError(new Error('the re-hydration transaction was discarded'));
    return replies;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw toAppError(err);
    }
  }
}

/** A pipeline's or transaction's replies: `[error, reply]` each. */
type Replies = Array<[Error | null, unknown]>;

/** The reply of a queued command, or its error as a typed AppError. */
function replyOf(entry: [Error | null, unknown] | undefined): unknown {
  if (!entry) throw toAppError(new Error('missing reply'));
  if (entry[0]) throw toAppError(entry[0]);
  return entry[1];
}

/** What a seq whose message was lost with Redis shows: a deleted message (keeps pages gap-free). */
function lostPlaceholder(at: string): StoredMessage {
  return {
    id: randomUUID(),
    authorId: 'parley',
    authorName: 'Parley',
    role: 'user',
    content: '',
    createdAt: at,
    deleted: true,
    metadata: { lost: true },
  };
}
