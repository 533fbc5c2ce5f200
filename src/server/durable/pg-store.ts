import 'server-only';
import type { AppendMessageInput } from '~/server/chat/store';
import { storedOf, type MessageFields, type StoredMessage } from '~/server/chat/codec';
import { withNames, type UserRecord } from '~/server/auth/service';
import { AppError } from '~/server/errors';
import { LIMITS } from '~/shared/limits';
import { PROVISIONAL } from '~/shared/provisional';
import type { MemberDTO, MessageDTO, MessagePage, ProjectDTO, Role, SessionDTO, SessionStatus } from '~/shared/types';
import { messageColumns, upsertMessages } from './persist';
import { query, transaction, versionOf, type Pool } from './pg';

/**
 * PostgreSQL as a store: what the durable tier reads while Redis is down (failover) or after Redis
 * lost data (read-through), and where sends made during an outage wait (pending_messages) until
 * they are replayed into Redis. Rows are written by the outbox consumer; this module reads them and
 * writes only what an outage needs: pending messages, the row of a replayed one (with its outbox
 * version, in the transaction that deletes it from pending), logins started or ended while Redis is
 * down, and the clean-up of long-expired logins.
 *
 * Derived values Redis keeps as counters (a session's messageCount and lastMessageAt, a project's
 * lastActivityAt) are computed here from the indexed tables, so the consumer never has to keep
 * counters right across out-of-order batches.
 */

interface MessageRowOut {
  project_id: string;
  id: string;
  session_id: string;
  seq: number;
  author_id: string;
  author_name: string;
  role: Role;
  content: string;
  created_at: Date;
  updated_at: Date;
  metadata: Record<string, unknown>;
  ai_response: Record<string, unknown> | null;
  confidence: number | null;
  status: MessageDTO['status'];
  is_edited: boolean;
  deleted: boolean;
  reactions: MessageDTO['reactions'];
}

/**
 * The message columns the app reads (MessageRowOut): never `SELECT *`, which would also carry the
 * search columns (search_tsv, search_config) on every failover page.
 */
const MESSAGE_COLUMNS =
  'project_id, id, session_id, seq, author_id, author_name, role, content, created_at, updated_at, metadata, ai_response, confidence, status, is_edited, deleted, reactions';

interface PendingRow {
  project_id: string;
  id: string;
  session_id: string;
  author_id: string;
  author_name: string;
  role: Role;
  content: string;
  metadata: Record<string, unknown>;
  ai_response: Record<string, unknown> | null;
  confidence: number | null;
  created_at: Date;
}

interface SessionRowOut {
  id: string;
  project_id: string;
  title: string;
  description: string | null;
  status: SessionStatus;
  created_at: Date;
  updated_at: Date;
  created_by: string;
  metadata: Record<string, unknown>;
  last_seq: number | null;
  last_message_at: Date | null;
  pending: string;
  pending_last: Date | null;
}

interface ProjectRowOut {
  id: string;
  name: string;
  owner_id: string;
  created_at: Date;
  last_activity_at: Date;
}

/** A pending (failover) message, as the reconciler replays it. */
export interface PendingMessage {
  projectId: string;
  sessionId: string;
  input: AppendMessageInput;
}

/** What read-through needs to rebuild a session in Redis. */
export interface SessionSnapshot {
  session: SessionDTO;
  /** Highest seq PostgreSQL has (pending messages excluded): Redis's lastSeq and messageCount. */
  lastSeq: number;
  /** Activity score for the project's session index (ms). */
  activityMs: number;
}

export interface ProjectSnapshot {
  project: ProjectDTO;
  members: Array<{ userId: string; joinedAtMs: number }>;
  sessionIds: string[];
  /** "<sid>:<seq>" of the project's newest messages with their times, newest first (the Redis `recent` list). */
  recent: Array<{ ref: string; createdAt: string }>;
}

const iso = (d: Date) => d.toISOString();

const SESSION_SELECT = `
  SELECT s.id, s.project_id, s.title, s.description, s.status, s.created_at, s.updated_at, s.created_by,
         s.metadata, m.seq AS last_seq, m.created_at AS last_message_at,
         (SELECT count(*) FROM pending_messages p WHERE p.session_id = s.id AND p.failed_at IS NULL) AS pending,
         (SELECT max(created_at) FROM pending_messages p WHERE p.session_id = s.id AND p.failed_at IS NULL) AS pending_last
  FROM sessions s
  LEFT JOIN LATERAL (SELECT seq, created_at FROM messages WHERE session_id = s.id ORDER BY seq DESC LIMIT 1) m ON true`;

const PROJECT_SELECT = `
  SELECT p.id, p.name, p.owner_id, p.created_at,
         GREATEST(p.created_at,
                  (SELECT max(created_at) FROM sessions WHERE project_id = p.id),
                  (SELECT max(created_at) FROM messages WHERE project_id = p.id)) AS last_activity_at
  FROM projects p`;

export class PgStore {
  constructor(readonly pool: Pool) {}

  async ping(): Promise<boolean> {
    try {
      await query(this.pool, 'ping', 'SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- projects and members

  async isMember(projectId: string, userId: string): Promise<boolean> {
    const r = await query(this.pool, 'members.is', 'SELECT 1 FROM project_members WHERE project_id = $1 AND user_id = $2', [
      projectId,
      userId,
    ]);
    return r.rowCount === 1;
  }

  async getProject(projectId: string): Promise<{ project: ProjectDTO; memberIds: string[] } | null> {
    const [p, m] = await Promise.all([
      query<ProjectRowOut>(this.pool, 'projects.get', `${PROJECT_SELECT} WHERE p.id = $1`, [projectId]),
      query<{ user_id: string }>(this.pool, 'members.list', 'SELECT user_id FROM project_members WHERE project_id = $1', [
        projectId,
      ]),
    ]);
    const row = p.rows[0];
    return row ? { project: projectDTO(row), memberIds: m.rows.map((r) => r.user_id) } : null;
  }

  async listProjectsFor(userId: string): Promise<ProjectDTO[]> {
    const r = await query<ProjectRowOut>(
      this.pool,
      'projects.of_user',
      `${PROJECT_SELECT} JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = $1
       ORDER BY last_activity_at DESC`,
      [userId],
    );
    return r.rows.map(projectDTO);
  }

  // ---------------------------------------------------------------- sessions

  async getSession(projectId: string, sessionId: string): Promise<SessionDTO | null> {
    const r = await query<SessionRowOut>(this.pool, 'sessions.get', `${SESSION_SELECT} WHERE s.project_id = $1 AND s.id = $2`, [
      projectId,
      sessionId,
    ]);
    return r.rows[0] ? sessionDTO(r.rows[0]) : null;
  }

  async listSessions(projectId: string, limit: number): Promise<SessionDTO[]> {
    const r = await query<SessionRowOut>(
      this.pool,
      'sessions.list',
      `SELECT * FROM (${SESSION_SELECT} WHERE s.project_id = $1) q
       ORDER BY GREATEST(q.created_at, q.last_message_at, q.pending_last) DESC LIMIT $2`,
      [projectId, limit],
    );
    return r.rows.map(sessionDTO);
  }

  // ---------------------------------------------------------------- messages

  /**
   * A page like ChatStore.listMessages. Pending (failover) messages come after the highest persisted
   * seq, numbered on from it in the order they were sent: provisional seqs, for display only (Redis
   * gives them their final seqs when they are replayed).
   */
  async listMessages(input: {
    projectId: string;
    sessionId: string;
    limit: number;
    cursor?: number | null | undefined;
  }): Promise<MessagePage> {
    const { projectId, sessionId } = input;
    const limit = Math.min(Math.max(1, input.limit), LIMITS.pageSizeMax);
    await this.requireSession(projectId, sessionId);
    const [maxSeq, pending] = await Promise.all([
      this.maxSeq(sessionId),
      this.pendingOf(projectId, sessionId),
    ]);
    const below = input.cursor ?? Number.POSITIVE_INFINITY;
    const provisional = pending
      .map((p, i) => pendingDTO(p, maxSeq + i + 1))
      .filter((m) => m.seq < below)
      .reverse()
      .slice(0, limit);
    const rest = limit - provisional.length;
    let persisted: MessageDTO[] = [];
    if (rest > 0) {
      const r = await query<MessageRowOut>(
        this.pool,
        'messages.page',
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
        [sessionId, Math.min(below, maxSeq + 1), rest],
      );
      persisted = r.rows.map(messageDTO);
    }
    const items = [...provisional, ...persisted].reverse();
    const lowest = items[0]?.seq ?? 1;
    return { items, nextCursor: lowest > 1 ? lowest : null };
  }

  /** The project's newest messages across sessions, oldest first (pending ones included). */
  async recentMessages(projectId: string, limit: number): Promise<MessageDTO[]> {
    const n = Math.min(limit, LIMITS.projectRecentMax);
    const [r, pending] = await Promise.all([
      query<MessageRowOut>(
        this.pool,
        'messages.recent',
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE project_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`,
        [projectId, n],
      ),
      this.pendingOf(projectId, null),
    ]);
    const bySession = new Map<string, PendingRow[]>();
    for (const p of pending) bySession.set(p.session_id, [...(bySession.get(p.session_id) ?? []), p]);
    const provisional: MessageDTO[] = [];
    for (const [sid, rows] of bySession) {
      const maxSeq = await this.maxSeq(sid);
      rows.forEach((p, i) => provisional.push(pendingDTO(p, maxSeq + i + 1)));
    }
    return [...r.rows.map(messageDTO), ...provisional]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.seq - a.seq)
      .slice(0, n)
      .reverse();
  }

  /**
   * Stores a message sent while Redis is down, idempotently by id (like appendMessage): a repeat
   * returns what was stored. Refuses (UNAVAILABLE) when PostgreSQL does not know the session yet: it
   * was created moments before the outage and its outbox entry is still in Redis.
   */
  async appendPending(input: AppendMessageInput): Promise<MessageDTO> {
    const { projectId, sessionId } = input;
    return transaction(this.pool, async (tx) => {
      // One writer per session at a time, so provisional numbering is stable.
      await query(tx, 'pending.lock', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [sessionId]);
      const stored = await query<MessageRowOut>(tx, 'messages.by_id', `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE project_id = $1 AND id = $2`, [
        projectId,
        input.id,
      ]);
      if (stored.rows[0]) {
        if (stored.rows[0].session_id !== sessionId) {
          throw new AppError('CONFLICT', 'Message id already used in another session');
        }
        return messageDTO(stored.rows[0]);
      }
      const session = await query(tx, 'sessions.exists', 'SELECT 1 FROM sessions WHERE project_id = $1 AND id = $2', [
        projectId,
        sessionId,
      ]);
      if (session.rowCount !== 1) {
        throw new AppError('UNAVAILABLE', 'This session cannot take messages until the chat store is back; please retry shortly');
      }
      const inserted = await query<PendingRow>(
        tx,
        'pending.insert',
        `INSERT INTO pending_messages (project_id, id, session_id, author_id, author_name, role, content, metadata,
                                       ai_response, confidence, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (project_id, id) DO NOTHING RETURNING *`,
        [
          projectId,
          input.id,
          sessionId,
          input.author.id,
          input.author.username,
          input.role ?? 'user',
          input.content,
          JSON.stringify(input.metadata ?? {}),
          input.aiResponse ? JSON.stringify(input.aiResponse) : null,
          input.confidence ?? null,
          input.createdAt ?? new Date().toISOString(),
        ],
      );
      if (!inserted.rows[0]) {
        const existing = await query<PendingRow>(tx, 'pending.by_id', 'SELECT * FROM pending_messages WHERE project_id = $1 AND id = $2', [
          projectId,
          input.id,
        ]);
        if (existing.rows[0]?.session_id !== sessionId) {
          throw new AppError('CONFLICT', 'Message id already used in another session');
        }
      }
      const [maxSeq, pending] = [await this.maxSeq(sessionId, tx), await this.pendingOf(projectId, sessionId, tx)];
      const index = pending.findIndex((p) => p.id === input.id);
      return pendingDTO(pending[index]!, maxSeq + index + 1);
    });
  }

  // ---------------------------------------------------------------- failover replay

  /** The oldest pending messages (all sessions), in the order they were sent. */
  async nextPending(limit: number): Promise<PendingMessage[]> {
    const r = await query<PendingRow>(
      this.pool,
      'pending.next',
      'SELECT * FROM pending_messages WHERE failed_at IS NULL ORDER BY created_at, id LIMIT $1',
      [limit],
    );
    return r.rows.map((p) => ({
      projectId: p.project_id,
      sessionId: p.session_id,
      input: {
        projectId: p.project_id,
        sessionId: p.session_id,
        id: p.id,
        content: p.content,
        author: { id: p.author_id, username: p.author_name },
        role: p.role,
        ...(p.confidence !== null ? { confidence: p.confidence } : {}),
        ...(p.ai_response ? { aiResponse: p.ai_response } : {}),
        ...(Object.keys(p.metadata).length > 0 ? { metadata: p.metadata } : {}),
        createdAt: iso(p.created_at),
      },
    }));
  }

  /**
   * A pending message is in Redis now (at its final seq): persist that version right away (the
   * outbox entry of the replay will find it there already) and drop the pending row, in one
   * transaction, so PostgreSQL never shows it twice or not at all.
   */
  async completePending(
    pending: PendingMessage,
    replayed: { seq: number; message: StoredMessage; outboxId: string | null },
  ): Promise<void> {
    await transaction(this.pool, async (tx) => {
      if (replayed.outboxId) {
        await upsertMessages(tx, [
          {
            ...messageColumns(pending.projectId, pending.sessionId, replayed.seq, replayed.message),
            version: versionOf(replayed.outboxId),
          },
        ]);
      }
      await query(tx, 'pending.delete', 'DELETE FROM pending_messages WHERE project_id = $1 AND id = $2', [
        pending.projectId,
        pending.input.id,
      ]);
    });
  }

  /** Replay refused for good (e.g. the session is gone): keep the row, out of the queue, for an operator. */
  async failPending(pending: PendingMessage, reason: string): Promise<void> {
    await query(this.pool, 'pending.fail', 'UPDATE pending_messages SET failed_at = now(), failure = $3 WHERE project_id = $1 AND id = $2', [
      pending.projectId,
      pending.input.id,
      reason.slice(0, 500),
    ]);
  }

  async pendingCounts(): Promise<{ pending: number; failed: number }> {
    const r = await query<{ pending: string; failed: string }>(
      this.pool,
      'pending.counts',
      `SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending, count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
       FROM pending_messages`,
    );
    return { pending: Number(r.rows[0]?.pending ?? 0), failed: Number(r.rows[0]?.failed ?? 0) };
  }

  // ---------------------------------------------------------------- read-through snapshots

  async sessionSnapshot(projectId: string, sessionId: string): Promise<SessionSnapshot | null> {
    const r = await query<SessionRowOut>(this.pool, 'sessions.snapshot', `${SESSION_SELECT} WHERE s.project_id = $1 AND s.id = $2`, [
      projectId,
      sessionId,
    ]);
    const row = r.rows[0];
    if (!row) return null;
    const lastSeq = row.last_seq ?? 0;
    const session = sessionDTO({ ...row, pending: '0', pending_last: null });
    const activity = row.last_message_at && row.last_message_at > row.created_at ? row.last_message_at : row.created_at;
    return { session: { ...session, messageCount: lastSeq }, lastSeq, activityMs: activity.getTime() };
  }

  /** A session's messages in seq order after `afterSeq`, as stored bodies (for read-through). */
  async sessionMessages(sessionId: string, afterSeq: number, limit: number): Promise<Array<{ seq: number; message: StoredMessage }>> {
    const r = await query<MessageRowOut>(
      this.pool,
      'messages.after',
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [sessionId, afterSeq, limit],
    );
    return r.rows.map((row) => ({ seq: row.seq, message: storedMessage(row) }));
  }

  async projectSnapshot(projectId: string): Promise<ProjectSnapshot | null> {
    const [p, members, sessions, recent] = await Promise.all([
      query<ProjectRowOut>(this.pool, 'projects.get', `${PROJECT_SELECT} WHERE p.id = $1`, [projectId]),
      query<{ user_id: string; joined_at: Date }>(
        this.pool,
        'members.snapshot',
        'SELECT user_id, joined_at FROM project_members WHERE project_id = $1',
        [projectId],
      ),
      query<{ id: string }>(this.pool, 'sessions.ids', 'SELECT id FROM sessions WHERE project_id = $1', [projectId]),
      query<{ session_id: string; seq: number; created_at: Date }>(
        this.pool,
        'messages.recent_refs',
        'SELECT session_id, seq, created_at FROM messages WHERE project_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2',
        [projectId, LIMITS.projectRecentMax],
      ),
    ]);
    const row = p.rows[0];
    if (!row) return null;
    return {
      project: projectDTO(row),
      members: members.rows.map((m) => ({ userId: m.user_id, joinedAtMs: m.joined_at.getTime() })),
      sessionIds: sessions.rows.map((s) => s.id),
      recent: recent.rows.map((m) => ({ ref: `${m.session_id}:${m.seq}`, createdAt: iso(m.created_at) })),
    };
  }

  /** Every member's read markers in a project: user id -> session id -> last-read seq. */
  async readMarkers(projectId: string): Promise<Map<string, Record<string, number>>> {
    const r = await query<{ user_id: string; session_id: string; last_read: number }>(
      this.pool,
      'read_markers.of_project',
      'SELECT user_id, session_id, last_read FROM read_markers WHERE project_id = $1',
      [projectId],
    );
    const out = new Map<string, Record<string, number>>();
    for (const row of r.rows) {
      const markers = out.get(row.user_id) ?? {};
      markers[row.session_id] = row.last_read;
      out.set(row.user_id, markers);
    }
    return out;
  }

  async projectsOfUser(userId: string): Promise<Array<{ projectId: string; joinedAtMs: number }>> {
    const r = await query<{ project_id: string; joined_at: Date }>(
      this.pool,
      'members.of_user',
      'SELECT project_id, joined_at FROM project_members WHERE user_id = $1',
      [userId],
    );
    return r.rows.map((m) => ({ projectId: m.project_id, joinedAtMs: m.joined_at.getTime() }));
  }

  // ---------------------------------------------------------------- accounts

  async userByName(username: string): Promise<UserRecord | null> {
    const r = await query<{ id: string; username: string; password_hash: string; created_at: Date }>(
      this.pool,
      'users.by_name',
      'SELECT id, username, password_hash, created_at FROM users WHERE lower(username) = lower($1)',
      [username],
    );
    const u = r.rows[0];
    return u ? { id: u.id, username: u.username, passwordHash: u.password_hash, createdAt: iso(u.created_at) } : null;
  }

  async usersByIds(ids: string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const r = await query<{ id: string; username: string; password_hash: string; created_at: Date }>(
      this.pool,
      'users.by_ids',
      'SELECT id, username, password_hash, created_at FROM users WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return r.rows.map((u) => ({ id: u.id, username: u.username, passwordHash: u.password_hash, createdAt: iso(u.created_at) }));
  }

  async usernames(ids: string[]): Promise<MemberDTO[]> {
    return withNames(ids, new Map((await this.usersByIds(ids)).map((u) => [u.id, u.username])));
  }

  /** A live login session: not signed out, not expired. */
  async loginSession(tokenHash: string): Promise<{ userId: string; username: string; expiresAt: Date } | null> {
    const r = await query<{ user_id: string; username: string; expires_at: Date }>(
      this.pool,
      'logins.get',
      `SELECT user_id, username, expires_at FROM login_sessions
       WHERE token_hash = $1 AND revoked_at IS NULL AND user_id IS NOT NULL AND expires_at > now()`,
      [tokenHash],
    );
    const row = r.rows[0];
    return row ? { userId: row.user_id, username: row.username, expiresAt: row.expires_at } : null;
  }

  /** A login started while Redis is down (it reaches Redis through read-through later). */
  async insertLoginSession(tokenHash: string, user: { id: string; username: string }, expiresAt: Date): Promise<void> {
    await query(
      this.pool,
      'logins.insert',
      `INSERT INTO login_sessions (token_hash, user_id, username, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_hash) DO NOTHING`,
      [tokenHash, user.id, user.username, expiresAt],
    );
  }

  /**
   * Marks a login signed out, as the consumer does when it persists the logout entry (the earliest
   * revocation time wins; a row that does not exist yet becomes a tombstone the login cannot undo).
   */
  async revokeLoginSession(tokenHash: string, at: Date): Promise<void> {
    await query(
      this.pool,
      'logins.revoke',
      `INSERT INTO login_sessions (token_hash, revoked_at) VALUES ($1, $2)
       ON CONFLICT (token_hash) DO UPDATE SET revoked_at = COALESCE(login_sessions.revoked_at, EXCLUDED.revoked_at)`,
      [tokenHash, at],
    );
  }

  /** Forgets login sessions that expired more than a day ago (housekeeping). */
  async deleteExpiredLogins(): Promise<number> {
    const r = await query(this.pool, 'logins.expire', "DELETE FROM login_sessions WHERE expires_at < now() - interval '1 day'");
    return r.rowCount ?? 0;
  }

  // ---------------------------------------------------------------- helpers

  private async requireSession(projectId: string, sessionId: string): Promise<void> {
    const r = await query(this.pool, 'sessions.exists', 'SELECT 1 FROM sessions WHERE project_id = $1 AND id = $2', [
      projectId,
      sessionId,
    ]);
    if (r.rowCount !== 1) {
      throw new AppError('UNAVAILABLE', 'This session is not available until the chat store is back; please retry shortly');
    }
  }

  private async maxSeq(sessionId: string, db: Pick<Pool, 'query'> = this.pool): Promise<number> {
    const r = await query<{ seq: number | null }>(db, 'messages.max_seq', 'SELECT max(seq) AS seq FROM messages WHERE session_id = $1', [
      sessionId,
    ]);
    return r.rows[0]?.seq ?? 0;
  }

  private async pendingOf(projectId: string, sessionId: string | null, db: Pick<Pool, 'query'> = this.pool): Promise<PendingRow[]> {
    const r = await query<PendingRow>(
      db,
      'pending.of',
      `SELECT * FROM pending_messages WHERE project_id = $1 AND ($2::uuid IS NULL OR session_id = $2) AND failed_at IS NULL
       ORDER BY created_at, id`,
      [projectId, sessionId],
    );
    return r.rows;
  }
}

// ------------------------------------------------------------------------------ row -> DTO

function projectDTO(r: ProjectRowOut): ProjectDTO {
  return {
    id: r.id,
    name: r.name,
    ownerId: r.owner_id,
    createdAt: iso(r.created_at),
    lastActivityAt: iso(r.last_activity_at),
  };
}

function sessionDTO(r: SessionRowOut): SessionDTO {
  const pending = Number(r.pending);
  const last = [r.last_message_at, r.pending_last].filter((d): d is Date => d !== null);
  const lastMessageAt = last.length > 0 ? new Date(Math.max(...last.map((d) => d.getTime()))) : null;
  const updatedAt = lastMessageAt && lastMessageAt > r.updated_at ? lastMessageAt : r.updated_at;
  return {
    id: r.id,
    projectId: r.project_id,
    title: r.title,
    description: r.description,
    status: r.status,
    createdAt: iso(r.created_at),
    updatedAt: iso(updatedAt),
    createdBy: r.created_by,
    metadata: r.metadata,
    messageCount: (r.last_seq ?? 0) + pending,
    lastMessageAt: lastMessageAt ? iso(lastMessageAt) : null,
  };
}

function messageDTO(r: MessageRowOut): MessageDTO {
  return { projectId: r.project_id, sessionId: r.session_id, seq: r.seq, ...fieldsOfRow(r) };
}

/** A row's message fields (the snake_case columns back in the codec's shape). */
function fieldsOfRow(r: MessageRowOut): MessageFields {
  return {
    id: r.id,
    authorId: r.author_id,
    authorName: r.author_name,
    role: r.role,
    content: r.content,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    metadata: r.metadata,
    aiResponse: r.ai_response,
    confidence: r.confidence,
    status: r.status,
    isEdited: r.is_edited,
    deleted: r.deleted,
    reactions: r.reactions,
  };
}

/** A pending message as answered while Redis is down: its seq is provisional, and marked so. */
function pendingDTO(p: PendingRow, provisionalSeq: number): MessageDTO {
  return {
    id: p.id,
    projectId: p.project_id,
    sessionId: p.session_id,
    seq: provisionalSeq,
    authorId: p.author_id,
    authorName: p.author_name,
    role: p.role,
    content: p.content,
    createdAt: iso(p.created_at),
    updatedAt: iso(p.created_at),
    metadata: { ...p.metadata, [PROVISIONAL]: true },
    aiResponse: p.ai_response,
    confidence: p.confidence,
    status: 'delivered',
    isEdited: false,
    deleted: false,
    reactions: [],
  };
}

/** A row back into the sparse body Redis stores (defaults left out, as encodeMessage writes them). */
export function storedMessage(r: MessageRowOut): StoredMessage {
  return storedOf(fieldsOfRow(r));
}
