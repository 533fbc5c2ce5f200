import 'server-only';
import { flatToRecord, parseStoredMessage, type StoredMessage } from '~/server/chat/codec';

/**
 * The outbox entries the write scripts append (src/server/redis/lua/*.lua), decoded. Each carries
 * the full new state of what changed, never a delta, so applying the newest version of a record is
 * all a consumer has to do, in any order, any number of times.
 */
export type OutboxChange =
  | { kind: 'message'; projectId: string; sessionId: string; seq: number; message: StoredMessage }
  | { kind: 'session'; projectId: string; session: Record<string, string> }
  | { kind: 'project'; project: { id: string; name: string; ownerId: string; createdAt: string } }
  | { kind: 'member'; projectId: string; userId: string; joinedAt: number }
  | { kind: 'member_removed'; projectId: string; userId: string; at: number }
  | { kind: 'user'; user: { id: string; username: string; passwordHash: string; createdAt: string } }
  | { kind: 'login'; tokenHash: string; userId: string; username: string; expiresAt: number }
  | { kind: 'logout'; tokenHash: string; at: number }
  /** A user's read marker of a session moved forward to `lastRead` (session.markRead). */
  | { kind: 'read'; projectId: string; userId: string; sessionId: string; lastRead: number };

export type OutboxKind = OutboxChange['kind'];

export interface OutboxEntry {
  /** The stream entry id: also the version of the change (later id = newer change). */
  id: string;
  change: OutboxChange;
}

/** Stream entries as ioredis returns them: [id, [field, value, ...]]. */
export type RawEntry = [id: string, fields: string[]];

export class MalformedEntryError extends Error {
  constructor(id: string, why: string) {
    super(`Outbox entry ${id} is malformed: ${why}`);
    this.name = 'MalformedEntryError';
  }
}

function need(f: Record<string, string>, id: string, field: string): string {
  const v = f[field];
  if (v === undefined || v === '') throw new MalformedEntryError(id, `no "${field}"`);
  return v;
}

function json<T>(f: Record<string, string>, id: string, field: string, parse: (text: string) => T = (text) => JSON.parse(text) as T): T {
  try {
    return parse(need(f, id, field));
  } catch (err) {
    if (err instanceof MalformedEntryError) throw err;
    throw new MalformedEntryError(id, `"${field}" is not JSON`);
  }
}

function int(f: Record<string, string>, id: string, field: string): number {
  const n = Number(need(f, id, field));
  if (!Number.isSafeInteger(n)) throw new MalformedEntryError(id, `"${field}" is not an integer`);
  return n;
}

export function decodeOutboxEntry([id, flat]: RawEntry): OutboxEntry {
  const f = flatToRecord(flat);
  const kind = f.k as OutboxKind | undefined;
  switch (kind) {
    case 'message':
      return {
        id,
        change: {
          kind,
          projectId: need(f, id, 'p'),
          sessionId: need(f, id, 's'),
          seq: int(f, id, 'q'),
          // The stored body as the script wrote it (either form: codec.ts).
          message: json(f, id, 'd', parseStoredMessage),
        },
      };
    case 'session':
      return { id, change: { kind, projectId: need(f, id, 'p'), session: json(f, id, 'd') } };
    case 'project':
      return { id, change: { kind, project: json(f, id, 'd') } };
    case 'member':
      return {
        id,
        change: { kind, projectId: need(f, id, 'p'), userId: need(f, id, 'u'), joinedAt: int(f, id, 'at') },
      };
    case 'member_removed':
      return { id, change: { kind, projectId: need(f, id, 'p'), userId: need(f, id, 'u'), at: int(f, id, 'at') } };
    case 'user':
      return { id, change: { kind, user: json(f, id, 'd') } };
    case 'login':
      return {
        id,
        change: {
          kind,
          tokenHash: need(f, id, 'h'),
          userId: need(f, id, 'u'),
          username: need(f, id, 'n'),
          expiresAt: int(f, id, 'x'),
        },
      };
    case 'logout':
      return { id, change: { kind, tokenHash: need(f, id, 'h'), at: int(f, id, 'at') } };
    case 'read':
      return {
        id,
        change: { kind, projectId: need(f, id, 'p'), userId: need(f, id, 'u'), sessionId: need(f, id, 's'), lastRead: int(f, id, 'q') },
      };
    case undefined:
      throw new MalformedEntryError(id, 'no kind');
    default:
      throw new MalformedEntryError(id, `unknown kind "${String(kind)}"`);
  }
}
