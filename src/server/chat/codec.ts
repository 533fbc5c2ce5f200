import 'server-only';
import { errorFields, logger } from '~/server/log';
import type {
  ChatEvent,
  MemberDTO,
  MessageDTO,
  MessageStatus,
  ProjectDTO,
  ReactionDTO,
  Role,
  SessionDTO,
  SessionStatus,
} from '~/shared/types';

/**
 * How records are laid out in Redis, and back. Message bodies are stored sparse: projectId, sessionId
 * and seq are implied by where the body lives, and fields at their default are left out. That keeps a
 * stored message small (see `npm run bench`, memory per message) without making it unreadable.
 *
 * One message codec for every direction. A message has two shapes that differ on purpose: its FIELDS
 * (MessageFields: everything a reader sees, defaults filled - the DTO without where it lives, what the
 * PostgreSQL row holds) and its stored BODY (StoredMessage: the same fields, defaults left out, what
 * Redis, the event log reader and the outbox carry). storedOf and fieldsOf go between the two; the
 * DTO is the fields plus its place (decodeMessage); a PostgreSQL row is the fields in snake_case
 * (durable/persist.ts messageColumns, durable/pg-store.ts fieldsOfRow).
 */
const log = logger('codec');

export interface StoredMessage {
  id: string;
  authorId: string;
  authorName: string;
  role: Role;
  content: string;
  createdAt: string;
  updatedAt?: string;
  metadata?: Record<string, unknown>;
  aiResponse?: Record<string, unknown>;
  confidence?: number;
  status?: MessageStatus;
  isEdited?: true;
  deleted?: true;
  reactions?: ReactionDTO[];
}

/** A message's own fields, defaults filled: the DTO without where the message lives. */
export type MessageFields = Omit<MessageDTO, 'projectId' | 'sessionId' | 'seq'>;

/** The stored body of a message: its fields with the defaults left out. */
export function storedOf(m: MessageFields): StoredMessage {
  const s: StoredMessage = {
    id: m.id,
    authorId: m.authorId,
    authorName: m.authorName,
    role: m.role,
    content: m.content,
    createdAt: m.createdAt,
  };
  if (m.updatedAt !== m.createdAt) s.updatedAt = m.updatedAt;
  if (Object.keys(m.metadata).length > 0) s.metadata = m.metadata;
  if (m.aiResponse) s.aiResponse = m.aiResponse;
  if (m.confidence !== null) s.confidence = m.confidence;
  if (m.status !== 'delivered') s.status = m.status;
  if (m.isEdited) s.isEdited = true;
  if (m.deleted) s.deleted = true;
  if (m.reactions.length > 0) s.reactions = m.reactions;
  return s;
}

/** A stored body's fields, with its defaults filled in. */
export function fieldsOf(m: StoredMessage): MessageFields {
  return {
    id: m.id,
    authorId: m.authorId,
    authorName: m.authorName,
    role: m.role,
    content: m.content,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt ?? m.createdAt,
    metadata: m.metadata ?? {},
    aiResponse: m.aiResponse ?? null,
    confidence: m.confidence ?? null,
    status: m.status ?? 'delivered',
    isEdited: m.isEdited ?? false,
    deleted: m.deleted ?? false,
    reactions: m.reactions ?? [],
  };
}

/** A new message's stored body, from what a send or an import gives (absent fields: defaults). */
export function newMessage(m: {
  id: string;
  author: { id: string; username: string };
  role?: Role | undefined;
  content: string;
  createdAt: string;
  updatedAt?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  aiResponse?: Record<string, unknown> | undefined;
  confidence?: number | undefined;
  status?: MessageStatus | undefined;
  isEdited?: boolean | undefined;
  reactions?: ReactionDTO[] | undefined;
}): StoredMessage {
  const { author, updatedAt, isEdited, ...rest } = m;
  // Absent fields take their defaults (fieldsOf), which storedOf then leaves out.
  return storedOf(
    fieldsOf({
      ...rest,
      role: m.role ?? 'user',
      authorId: author.id,
      authorName: author.username,
      ...(updatedAt ? { updatedAt } : {}),
      ...(isEdited ? { isEdited: true } : {}),
    }),
  );
}

/**
 * The stored body's JSON field names: one letter each, because every stored message repeats them
 * (`npm run bench`, memory per message: the names were ~50 of a typical body's ~380 bytes). The table
 * is the whole format; the order is the order fields are written in, and `t` (createdAt) comes before
 * the nested objects on purpose: search-scan-1.lua reads a body's time with a string match that finds
 * the FIRST `"t":"`, which must be the top-level one (see includes/message-body.lua, its Lua mirror).
 *
 *   i id          a authorId    n authorName  r role (left out when 'user')
 *   c content     t createdAt   u updatedAt   m metadata    x aiResponse
 *   f confidence  s status      e isEdited    d deleted     k reactions
 *
 * Fields at their default are left out (storedOf). Bodies written before the letters (full names:
 * `{"id":...,"authorId":...}`) stay readable: parseStoredMessage takes either, so data already in
 * Redis, outbox entries and event payloads in flight survive an upgrade; they are rewritten in the
 * new form the next time the message changes.
 */
const LETTER = {
  id: 'i',
  authorId: 'a',
  authorName: 'n',
  role: 'r',
  content: 'c',
  createdAt: 't',
  updatedAt: 'u',
  metadata: 'm',
  aiResponse: 'x',
  confidence: 'f',
  status: 's',
  isEdited: 'e',
  deleted: 'd',
  reactions: 'k',
} as const satisfies Record<keyof StoredMessage, string>;

const STORED_FIELDS = Object.keys(LETTER) as (keyof StoredMessage)[];

/** The role a stored body without `r` has. */
const DEFAULT_ROLE: Role = 'user';

export function encodeMessage(m: StoredMessage): string {
  const out: Record<string, unknown> = {};
  for (const field of STORED_FIELDS) {
    const value = m[field];
    if (value === undefined || (field === 'role' && value === DEFAULT_ROLE)) continue;
    out[LETTER[field]] = value;
  }
  return JSON.stringify(out);
}

/** A stored body (either form: letters, or the full names of bodies written before them). */
export function parseStoredMessage(body: string): StoredMessage {
  const raw = JSON.parse(body) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new Error('Stored message body is not an object');
  if ('id' in raw) return raw as unknown as StoredMessage; // the full-name form
  const m: Record<string, unknown> = {};
  for (const field of STORED_FIELDS) {
    const value = raw[LETTER[field]];
    if (value !== undefined) m[field] = value;
  }
  m.role ??= DEFAULT_ROLE;
  return m as unknown as StoredMessage;
}

/** The DTO of a stored body at its place. */
export function messageAt(projectId: string, sessionId: string, seq: number, m: StoredMessage): MessageDTO {
  return { projectId, sessionId, seq, ...fieldsOf(m) };
}

export function decodeMessage(projectId: string, sessionId: string, seq: number, body: string): MessageDTO {
  return messageAt(projectId, sessionId, seq, parseStoredMessage(body));
}

/** Redis returns HGETALL as an object (ioredis) or a flat list (inside Lua replies). */
export function flatToRecord(flat: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}

export function decodeSession(projectId: string, r: Record<string, string>): SessionDTO {
  return {
    id: req(r, 'id'),
    projectId,
    title: req(r, 'title'),
    description: r.description ? r.description : null,
    status: (r.status ?? 'active') as SessionStatus,
    createdAt: req(r, 'createdAt'),
    updatedAt: r.updatedAt ?? req(r, 'createdAt'),
    createdBy: req(r, 'createdBy'),
    metadata: r.metadata ? (JSON.parse(r.metadata) as Record<string, unknown>) : {},
    messageCount: Number(r.messageCount ?? 0),
    lastMessageAt: r.lastMessageAt ? r.lastMessageAt : null,
  };
}

export function decodeProject(r: Record<string, string>): ProjectDTO {
  return {
    id: req(r, 'id'),
    name: req(r, 'name'),
    ownerId: req(r, 'ownerId'),
    createdAt: req(r, 'createdAt'),
    lastActivityAt: r.lastActivityAt ?? req(r, 'createdAt'),
  };
}

/** An event log entry as XRANGE returns it: [id, [field, value, ...]]. */
export type StreamEntry = [id: string, fields: string[]];

/**
 * Turns a log entry into the event tabs receive. Never throws: an entry this version cannot read (an
 * event type from a newer version during a rolling deploy, a damaged record) becomes a `resync`, so the
 * tab refetches instead of silently missing the change or losing its stream.
 */
export function decodeEvent(projectId: string, entry: StreamEntry): ChatEvent {
  try {
    return decodeEventStrict(projectId, entry);
  } catch (err) {
    log.warn({ projectId, entry: entry[0], ...errorFields(err) }, 'unreadable event log entry; tabs will resync');
    return { type: 'resync', projectId };
  }
}

function decodeEventStrict(projectId: string, [, flat]: StreamEntry): ChatEvent {
  const f = flatToRecord(flat);
  const type = f.t as ChatEvent['type'];
  const data = f.d ?? '{}';
  switch (type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
      // The log holds a reference; the reader resolved the body into `d`. No body means the session has
      // left Redis (idle eviction) since: the reader cannot show the change, only refetch.
      if (f.d === undefined) return { type: 'resync', projectId };
      return { type, message: decodeMessage(projectId, req(f, 's'), Number(req(f, 'q')), data) };
    case 'session.created':
    case 'session.updated':
      return { type, session: decodeSession(projectId, JSON.parse(data) as Record<string, string>) };
    case 'member.added':
    case 'member.removed':
      return { type, projectId, member: JSON.parse(data) as MemberDTO };
    case 'ready':
    case 'resync':
      return { type, projectId };
    // Ephemeral signals never enter the log (src/server/realtime/subscription.ts): one here is corrupt.
    case 'read.updated':
    case 'typing':
    case 'presence':
    default:
      throw new Error(`Unknown event type in the log of project ${projectId}: ${String(f.t)}`);
  }
}

function req(r: Record<string, string>, field: string): string {
  const v = r[field];
  if (v === undefined) throw new Error(`Stored record lacks "${field}"`);
  return v;
}
