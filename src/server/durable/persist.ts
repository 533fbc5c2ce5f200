import 'server-only';
import { fieldsOf, type StoredMessage } from '~/server/chat/codec';
import type { OutboxEntry, OutboxKind } from './outbox';
import { query, versionOf, type Queryable } from './pg';

/**
 * Applies a batch of outbox entries to PostgreSQL: one statement per kind of record, upserts by id
 * where a row is only replaced by a NEWER version (the outbox entry id of the change it reflects). So
 * applying a batch twice, out of order, or after a newer one changes nothing it should not: the
 * consumer can retry and reclaim freely. Run it inside a transaction (the consumer does).
 */
export async function persistEntries(db: Queryable, entries: OutboxEntry[]): Promise<Record<OutboxKind, number>> {
  const counts: Record<OutboxKind, number> = {
    message: 0,
    session: 0,
    project: 0,
    member: 0,
    member_removed: 0,
    user: 0,
    login: 0,
    logout: 0,
    read: 0,
  };
  const messages = new Map<string, MessageRow>();
  const sessions = new Map<string, SessionRow>();
  const projects = new Map<string, ProjectRow>();
  // Per (project, user), the last change in the batch wins: joined (a row) or left (null).
  const members = new Map<string, MemberRow | null>();
  const users = new Map<string, UserRow>();
  const logins = new Map<string, LoginRow>();
  const logouts = new Map<string, LogoutRow>();
  // Per (project, user, session), the furthest marker in the batch.
  const reads = new Map<string, ReadRow>();

  for (const { id, change } of entries) {
    counts[change.kind]++;
    const version = versionOf(id);
    switch (change.kind) {
      case 'message':
        keepNewest(messages, `${change.projectId}/${change.message.id}`, {
          ...messageColumns(change.projectId, change.sessionId, change.seq, change.message),
          version,
        });
        break;
      case 'session': {
        const s = change.session;
        keepNewest(sessions, s.id ?? '', {
          id: s.id ?? '',
          project_id: change.projectId,
          title: s.title ?? '',
          description: s.description ? s.description : null,
          status: s.status ?? 'active',
          created_at: s.createdAt ?? '',
          updated_at: s.updatedAt ?? s.createdAt ?? '',
          created_by: s.createdBy ?? '',
          metadata: s.metadata ? (JSON.parse(s.metadata) as Record<string, unknown>) : {},
          version,
        });
        break;
      }
      case 'project': {
        const p = change.project;
        keepNewest(projects, p.id, {
          id: p.id,
          name: p.name,
          owner_id: p.ownerId,
          created_at: p.createdAt,
          version,
        });
        // The owner is the first member (the create script adds them to the member set).
        members.set(`${p.id}/${p.ownerId}`, { project_id: p.id, user_id: p.ownerId, joined_at: p.createdAt });
        break;
      }
      case 'member':
        members.set(`${change.projectId}/${change.userId}`, {
          project_id: change.projectId,
          user_id: change.userId,
          joined_at: new Date(change.joinedAt).toISOString(),
        });
        break;
      case 'member_removed':
        members.set(`${change.projectId}/${change.userId}`, null);
        break;
      case 'user': {
        const u = change.user;
        keepNewest(users, u.id, {
          id: u.id,
          username: u.username,
          password_hash: u.passwordHash,
          created_at: u.createdAt,
          version,
        });
        break;
      }
      case 'login':
        logins.set(change.tokenHash, {
          token_hash: change.tokenHash,
          user_id: change.userId,
          username: change.username,
          expires_at: new Date(change.expiresAt).toISOString(),
        });
        break;
      case 'logout':
        logouts.set(change.tokenHash, { token_hash: change.tokenHash, revoked_at: new Date(change.at).toISOString() });
        break;
      case 'read': {
        const key = `${change.projectId}/${change.userId}/${change.sessionId}`;
        const current = reads.get(key);
        if (!current || current.last_read < change.lastRead) {
          reads.set(key, {
            project_id: change.projectId,
            user_id: change.userId,
            session_id: change.sessionId,
            last_read: change.lastRead,
            version,
          });
        }
        break;
      }
      default:
        change satisfies never;
    }
  }

  if (users.size > 0) await upsertUsers(db, [...users.values()]);
  if (projects.size > 0) await upsertProjects(db, [...projects.values()]);
  const joined = [...members.values()].filter((m): m is MemberRow => m !== null);
  const left = [...members.entries()].filter(([, m]) => m === null).map(([k]) => k.split('/') as [string, string]);
  if (joined.length > 0) await insertMembers(db, joined);
  if (left.length > 0) await deleteMembers(db, left);
  if (sessions.size > 0) await upsertSessions(db, [...sessions.values()]);
  if (messages.size > 0) await upsertMessages(db, [...messages.values()]);
  if (logins.size > 0) await insertLogins(db, [...logins.values()]);
  if (logouts.size > 0) await insertLogouts(db, [...logouts.values()]);
  if (reads.size > 0) await upsertReadMarkers(db, [...reads.values()]);
  return counts;
}

// ------------------------------------------------------------------------------ rows

export interface MessageRow {
  project_id: string;
  id: string;
  session_id: string;
  seq: number;
  author_id: string;
  author_name: string;
  role: string;
  content: string;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown>;
  ai_response: Record<string, unknown> | null;
  confidence: number | null;
  status: string;
  is_edited: boolean;
  deleted: boolean;
  reactions: unknown[];
  version: string;
}
interface SessionRow {
  id: string;
  project_id: string;
  title: string;
  description: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  created_by: string;
  metadata: Record<string, unknown>;
  version: string;
}
interface ProjectRow {
  id: string;
  name: string;
  owner_id: string;
  created_at: string;
  version: string;
}
interface MemberRow {
  project_id: string;
  user_id: string;
  joined_at: string;
}
interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: string;
  version: string;
}
interface LoginRow {
  token_hash: string;
  user_id: string;
  username: string;
  expires_at: string;
}
interface ReadRow {
  project_id: string;
  user_id: string;
  session_id: string;
  last_read: number;
  version: string;
}
interface LogoutRow {
  token_hash: string;
  revoked_at: string;
}

/** A stored message body as a `messages` row (without its version): its fields in snake_case. */
export function messageColumns(
  projectId: string,
  sessionId: string,
  seq: number,
  stored: StoredMessage,
): Omit<MessageRow, 'version'> {
  const m = fieldsOf(stored);
  return {
    project_id: projectId,
    id: m.id,
    session_id: sessionId,
    seq,
    author_id: m.authorId,
    author_name: m.authorName,
    role: m.role,
    content: m.content,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    metadata: m.metadata,
    ai_response: m.aiResponse,
    confidence: m.confidence,
    status: m.status,
    is_edited: m.isEdited,
    deleted: m.deleted,
    reactions: m.reactions,
  };
}

function keepNewest<R extends { version: string }>(map: Map<string, R>, key: string, row: R) {
  const current = map.get(key);
  if (!current || BigInt(current.version) < BigInt(row.version)) map.set(key, row);
}

// ------------------------------------------------------------------------------ statements

const MESSAGE_COLUMNS =
  'project_id, id, session_id, seq, author_id, author_name, role, content, created_at, updated_at, ' +
  'metadata, ai_response, confidence, status, is_edited, deleted, reactions, version';
const MESSAGE_RECORD =
  'x(project_id uuid, id uuid, session_id uuid, seq integer, author_id text, author_name text, role text, ' +
  'content text, created_at timestamptz, updated_at timestamptz, metadata jsonb, ai_response jsonb, ' +
  'confidence double precision, status text, is_edited boolean, deleted boolean, reactions jsonb, version numeric)';

/**
 * Messages, newest version wins. Redis is the seq authority: when a different message holds the
 * (session, seq) slot, the newer of the two keeps it and the older moves to message_conflicts (this
 * only happens after Redis lost writes PostgreSQL already had, and reused their seqs).
 */
export async function upsertMessages(db: Queryable, rows: MessageRow[]): Promise<void> {
  // Two messages of this batch in one slot: keep the newer, the other is a conflict.
  const bySlot = new Map<string, MessageRow>();
  const losers: MessageRow[] = [];
  for (const row of rows) {
    const slot = `${row.session_id}/${row.seq}`;
    const other = bySlot.get(slot);
    if (!other) bySlot.set(slot, row);
    else if (BigInt(other.version) < BigInt(row.version)) {
      losers.push(other);
      bySlot.set(slot, row);
    } else losers.push(row);
  }
  const batch = [...bySlot.values()];
  const json = JSON.stringify(batch);

  // One writer per session at a time (locks taken in a fixed order, so writers never deadlock): two
  // transactions inserting the same new message would otherwise race on the (session, seq) index,
  // which ON CONFLICT (project_id, id) does not arbitrate. Same key as pending sends use.
  const sessions = [...new Set(batch.map((r) => r.session_id))];
  await query(
    db,
    'outbox.messages.lock',
    `SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(s, 0) AS k FROM unnest($1::text[]) s ORDER BY 1) q`,
    [sessions],
  );

  // Older stored messages in a slot a newer incoming one claims: move them aside.
  await query(
    db,
    'outbox.messages.displace',
    `WITH incoming AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS ${MESSAGE_RECORD}),
     moved AS (
       DELETE FROM messages m USING incoming x
       WHERE m.session_id = x.session_id AND m.seq = x.seq AND m.id <> x.id AND m.version < x.version
       RETURNING m.*)
     INSERT INTO message_conflicts (${MESSAGE_COLUMNS}) SELECT ${MESSAGE_COLUMNS} FROM moved`,
    [json],
  );
  // Incoming messages whose slot a newer stored one holds: they are the conflicts.
  const lost = await query<{ project_id: string; id: string }>(
    db,
    'outbox.messages.lost',
    `WITH incoming AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS ${MESSAGE_RECORD})
     INSERT INTO message_conflicts (${MESSAGE_COLUMNS})
     SELECT ${MESSAGE_COLUMNS.split(', ').map((c) => `x.${c}`).join(', ')} FROM incoming x
     WHERE EXISTS (SELECT 1 FROM messages m WHERE m.session_id = x.session_id AND m.seq = x.seq
                   AND m.id <> x.id AND m.version > x.version)
     RETURNING project_id, id`,
    [json],
  );
  const lostKeys = new Set(lost.rows.map((r) => `${r.project_id}/${r.id}`));
  const winners = lostKeys.size > 0 ? batch.filter((r) => !lostKeys.has(`${r.project_id}/${r.id}`)) : batch;
  if (losers.length > 0) await insertConflicts(db, losers);
  if (winners.length === 0) return;
  await query(
    db,
    'outbox.messages.upsert',
    `INSERT INTO messages (${MESSAGE_COLUMNS})
     SELECT ${MESSAGE_COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS ${MESSAGE_RECORD}
     ON CONFLICT (project_id, id) DO UPDATE SET
       session_id = EXCLUDED.session_id, seq = EXCLUDED.seq, author_id = EXCLUDED.author_id,
       author_name = EXCLUDED.author_name, role = EXCLUDED.role, content = EXCLUDED.content,
       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, metadata = EXCLUDED.metadata,
       ai_response = EXCLUDED.ai_response, confidence = EXCLUDED.confidence, status = EXCLUDED.status,
       is_edited = EXCLUDED.is_edited, deleted = EXCLUDED.deleted, reactions = EXCLUDED.reactions,
       version = EXCLUDED.version
     WHERE messages.version < EXCLUDED.version`,
    [JSON.stringify(winners)],
  );
  // Redis moves a session's updatedAt with every message change (no session entry for that): follow.
  await query(
    db,
    'outbox.messages.touch_sessions',
    `UPDATE sessions s SET updated_at = x.updated_at
     FROM (SELECT session_id, max(updated_at) AS updated_at
           FROM jsonb_to_recordset($1::jsonb) AS x(session_id uuid, updated_at timestamptz) GROUP BY session_id) x
     WHERE s.id = x.session_id AND s.updated_at < x.updated_at`,
    [JSON.stringify(winners)],
  );
}

async function insertConflicts(db: Queryable, rows: MessageRow[]) {
  await query(
    db,
    'outbox.messages.conflicts',
    `INSERT INTO message_conflicts (${MESSAGE_COLUMNS})
     SELECT ${MESSAGE_COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS ${MESSAGE_RECORD}`,
    [JSON.stringify(rows)],
  );
}

async function upsertSessions(db: Queryable, rows: SessionRow[]) {
  await query(
    db,
    'outbox.sessions.upsert',
    `INSERT INTO sessions (id, project_id, title, description, status, created_at, updated_at, created_by, metadata, version)
     SELECT id, project_id, title, description, status, created_at,
            -- Messages persisted before their session (out-of-order batches) may have moved it on.
            GREATEST(updated_at, (SELECT max(m.updated_at) FROM messages m WHERE m.session_id = x.id)),
            created_by, metadata, version
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, project_id uuid, title text, description text, status text,
       created_at timestamptz, updated_at timestamptz, created_by text, metadata jsonb, version numeric)
     ON CONFLICT (id) DO UPDATE SET
       title = EXCLUDED.title, description = EXCLUDED.description, status = EXCLUDED.status,
       updated_at = GREATEST(sessions.updated_at, EXCLUDED.updated_at), metadata = EXCLUDED.metadata,
       version = EXCLUDED.version
     WHERE sessions.version < EXCLUDED.version`,
    [JSON.stringify(rows)],
  );
}

async function upsertProjects(db: Queryable, rows: ProjectRow[]) {
  await query(
    db,
    'outbox.projects.upsert',
    `INSERT INTO projects (id, name, owner_id, created_at, version)
     SELECT id, name, owner_id, created_at, version
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, owner_id uuid, created_at timestamptz, version numeric)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version
     WHERE projects.version < EXCLUDED.version`,
    [JSON.stringify(rows)],
  );
}

async function insertMembers(db: Queryable, rows: MemberRow[]) {
  await query(
    db,
    'outbox.members.insert',
    `INSERT INTO project_members (project_id, user_id, joined_at)
     SELECT project_id, user_id, joined_at
     FROM jsonb_to_recordset($1::jsonb) AS x(project_id uuid, user_id uuid, joined_at timestamptz)
     ON CONFLICT (project_id, user_id) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

async function deleteMembers(db: Queryable, pairs: [projectId: string, userId: string][]) {
  await query(
    db,
    'outbox.members.delete',
    `DELETE FROM project_members pm
     USING jsonb_to_recordset($1::jsonb) AS x(project_id uuid, user_id uuid)
     WHERE pm.project_id = x.project_id AND pm.user_id = x.user_id`,
    [JSON.stringify(pairs.map(([project_id, user_id]) => ({ project_id, user_id })))],
  );
}

async function upsertUsers(db: Queryable, rows: UserRow[]) {
  await query(
    db,
    'outbox.users.upsert',
    `INSERT INTO users (id, username, password_hash, created_at, version)
     SELECT id, username, password_hash, created_at, version
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, username text, password_hash text, created_at timestamptz, version numeric)
     ON CONFLICT (id) DO UPDATE SET
       username = EXCLUDED.username, password_hash = EXCLUDED.password_hash, version = EXCLUDED.version
     WHERE users.version < EXCLUDED.version`,
    [JSON.stringify(rows)],
  );
}

async function insertLogins(db: Queryable, rows: LoginRow[]) {
  // DO NOTHING: a row that exists is this same login, or its sign-out tombstone (which must stay).
  await query(
    db,
    'outbox.logins.insert',
    `INSERT INTO login_sessions (token_hash, user_id, username, expires_at)
     SELECT token_hash, user_id, username, expires_at
     FROM jsonb_to_recordset($1::jsonb) AS x(token_hash text, user_id uuid, username text, expires_at timestamptz)
     ON CONFLICT (token_hash) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

async function insertLogouts(db: Queryable, rows: LogoutRow[]) {
  await query(
    db,
    'outbox.logouts.insert',
    `INSERT INTO login_sessions (token_hash, revoked_at)
     SELECT token_hash, revoked_at FROM jsonb_to_recordset($1::jsonb) AS x(token_hash text, revoked_at timestamptz)
     ON CONFLICT (token_hash) DO UPDATE SET revoked_at = COALESCE(login_sessions.revoked_at, EXCLUDED.revoked_at)`,
    [JSON.stringify(rows)],
  );
}

/**
 * Read markers only move forward: a stored marker at or past the incoming one stays (a replayed or
 * reordered older entry never moves it back), whatever the entries' order.
 */
async function upsertReadMarkers(db: Queryable, rows: ReadRow[]) {
  await query(
    db,
    'outbox.read_markers.upsert',
    `INSERT INTO read_markers (project_id, user_id, session_id, last_read, version)
     SELECT project_id, user_id, session_id, last_read, version
     FROM jsonb_to_recordset($1::jsonb) AS x(project_id uuid, user_id uuid, session_id uuid, last_read integer, version numeric)
     ON CONFLICT (project_id, user_id, session_id) DO UPDATE SET
       last_read = EXCLUDED.last_read, version = EXCLUDED.version
     WHERE read_markers.last_read < EXCLUDED.last_read`,
    [JSON.stringify(rows)],
  );
}
