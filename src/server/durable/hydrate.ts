import 'server-only';
import { randomUUID } from 'node:crypto';
import { encodeMessage, type StoredMessage } from '~/server/chat/codec';
import { toAppError } from '~/server/errors';
import { logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import { pipelineBySlot } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import type { UserRecord } from '~/server/auth/service';
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
  session(projectId: string, sessionId: string): Promise<boolean> {
    return this.once(`s:${sessionId}`, () => this.copySession(projectId, sessionId));
  }

  /** Brings a project back: every session, the recent list, the record, then the members. */
  project(projectId: string): Promise<boolean> {
    return this.once(`p:${projectId}`, () => this.copyProject(projectId));
  }

  /**
   * Before an append to a session Redis does not have: the project first when its record is not whole
   * in Redis either (Redis lost everything: an append must not be the first thing to land in the
   * project, or it would leave a partial record and a recent list of one behind), then the session.
   * False if PostgreSQL lacks the session too.
   */
  async forAppend(projectId: string, sessionId: string): Promise<boolean> {
    const whole = await this.run(() => this.redis.hexists(keys.project(projectId), 'id'));
    if (whole === 0) await this.project(projectId);
    return this.session(projectId, sessionId);
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

  /** Brings an account back (record and username). False when another account holds the name. */
  async user(record: UserRecord): Promise<boolean> {
    await this.run(() => scripts.hydrateUser.run(this.redis, { record: { ...record } }));
    const name = keys.username(record.username);
    await this.run(() => this.redis.set(name, record.id, 'NX'));
    const ok = (await this.run(() => this.redis.get(name))) === record.id;
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

  private async copySession(projectId: string, sessionId: string): Promise<boolean> {
    const snapshot = await this.pg.sessionSnapshot(projectId, sessionId);
    if (!snapshot) return false;
    const { session, lastSeq, activityMs } = snapshot;
    // Bodies first, the session record last: the record is what makes the session readable.
    let after = 0;
    let lost = 0;
    for (;;) {
      const rows = await this.pg.sessionMessages(sessionId, after, MESSAGE_CHUNK);
      if (rows.length === 0) break;
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
      await this.run(() => scripts.hydrateMessages.run(this.redis, { projectId, sessionId, messages }));
      if (rows.length < MESSAGE_CHUNK) break;
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
    const written = await this.run(() => scripts.hydrateSession.run(this.redis, { projectId, sessionId, activityMs, record }));
    if (written === 'written') {
      metrics().hydrations.inc({ kind: 'session' });
      log.info({ projectId, sessionId, messages: lastSeq }, 'session re-hydrated from PostgreSQL');
    } else if (written === 'messages_back') {
      metrics().hydrations.inc({ kind: 'session_messages' });
      log.info({ projectId, sessionId, messages: lastSeq }, 'evicted session messages re-hydrated from PostgreSQL');
    }
    return true;
  }

  private async copyProject(projectId: string): Promise<boolean> {
    const snapshot = await this.pg.projectSnapshot(projectId);
    if (!snapshot) return false;
    for (const sid of snapshot.sessionIds) {
      const whole = await this.run(() => this.redis.hexists(keys.session(projectId, sid), 'id'));
      if (whole === 0) await this.session(projectId, sid);
    }
    const { project, recent } = snapshot;
    // Who left is not brought back, even while PostgreSQL (the outbox behind) still lists them.
    const left = new Set(await this.run(() => this.redis.smembers(keys.leftMembers(projectId))));
    const members = snapshot.members.filter((m) => !left.has(m.userId));
    await this.run(() =>
      scripts.hydrateProject.run(this.redis, {
        projectId,
        memberIds: members.map((m) => m.userId),
        recent,
        project: { ...project },
      }),
    );
    // Each member's project index lives in the member's own slot: one command each, idempotent.
    for (const m of members) {
      await this.run(() => this.redis.zadd(keys.userProjects(m.userId), 'NX', m.joinedAtMs, projectId));
    }
    await this.copyReadMarkers(projectId);
    metrics().hydrations.inc({ kind: 'project' });
    log.info({ projectId, sessions: snapshot.sessionIds.length, members: members.length }, 'project re-hydrated from PostgreSQL');
    return true;
  }

  /**
   * Brings the members' read markers back (unread counts survive a Redis that lost them). Merged
   * forward only (HYDRATE_READS): a marker that moved in Redis meanwhile stays where it is.
   */
  private async copyReadMarkers(projectId: string): Promise<void> {
    const markers = await this.pg.readMarkers(projectId);
    if (markers.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [userId, sessions] of markers) scripts.hydrateReads.queue(pipeline, { projectId, userId, markers: sessions });
    for (const [err] of (await this.run(() => pipeline.exec())) ?? []) if (err) throw toAppError(err);
    metrics().hydrations.inc({ kind: 'read_markers' }, markers.size);
  }

  private once(key: string, fn: () => Promise<boolean>): Promise<boolean> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = fn().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw toAppError(err);
    }
  }
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
