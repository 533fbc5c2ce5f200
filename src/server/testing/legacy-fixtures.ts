/**
 * Writes the old product's storage exactly as seed 000's code did, on a real Redis, so the migration is
 * tested against what old deployments really hold:
 *
 * - store_chat_session: HSET <session hash> mapping=..., EXPIRE it, SADD <project sessions set>
 * - store_chat_message: SETEX <body> ttl json, LPUSH <list> id, HSET last_message_at, HINCRBY message_count
 *   (four separate commands, not atomic, newest id first in the list)
 * - the older layouts: `project:<pid>:memory:<type>:<key>` JSON strings and `session_<sid>` blobs.
 *
 * Bodies are serialized like Python's json.dumps (ensure_ascii: non-ASCII as \uXXXX escapes) and times
 * like datetime.utcnow().isoformat() (no zone, microseconds).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { legacyKeys } from '~/server/redis/keys';
import { waitFor } from './wait';

export interface OldMessage {
  id: string;
  project_id: string;
  session_id: string;
  role: 'user' | 'ai_pm';
  content: string;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown>;
  ai_response: Record<string, unknown> | null;
  confidence: number | null;
  status: string;
  is_edited: boolean;
  reactions: Record<string, unknown>[];
  user_id?: string;
}

export interface OldSession {
  id: string;
  project_id: string;
  title: string;
  description: string | null;
  created_at: string;
  updated_at: string;
  status: string;
  metadata: Record<string, unknown>;
  message_count: number;
  last_message_at: string | null;
}

/** Python's datetime.isoformat() of a UTC instant: `2024-05-01T12:00:00.123456` (no zone). */
export function pyIso(ms: number, micros = 0): string {
  const iso = new Date(ms).toISOString().slice(0, 23); // ...:ss.mmm
  return `${iso}${String(micros).padStart(3, '0')}`;
}

/** json.dumps(obj) as the seed called it: ensure_ascii (non-ASCII as \uXXXX escapes, pairs for astral characters). */
export function pyJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function oldMessage(
  p: Pick<OldMessage, 'project_id' | 'session_id' | 'content'> & Partial<OldMessage>,
): OldMessage {
  const created = p.created_at ?? pyIso(Date.now());
  return {
    id: p.id ?? randomUUID(),
    project_id: p.project_id,
    session_id: p.session_id,
    role: p.role ?? 'user',
    content: p.content,
    created_at: created,
    updated_at: p.updated_at ?? created,
    metadata: p.metadata ?? {},
    ai_response: p.ai_response ?? null,
    confidence: p.confidence ?? null,
    status: p.status ?? 'delivered',
    is_edited: p.is_edited ?? false,
    reactions: p.reactions ?? [],
    ...(p.user_id !== undefined ? { user_id: p.user_id } : {}),
  };
}

export function oldSession(p: Pick<OldSession, 'project_id'> & Partial<OldSession>): OldSession {
  const created = p.created_at ?? pyIso(Date.now());
  return {
    id: p.id ?? randomUUID(),
    project_id: p.project_id,
    title: p.title ?? 'Planning',
    description: p.description ?? null,
    created_at: created,
    updated_at: p.updated_at ?? created,
    status: p.status ?? 'active',
    metadata: p.metadata ?? {},
    message_count: p.message_count ?? 0,
    last_message_at: p.last_message_at ?? null,
  };
}

const TTL = 86_400 * 30;

/** The seed's store_chat_session: HSET mapping, EXPIRE, SADD. */
export async function storeChatSession(redis: Redis, s: OldSession, ttl = TTL): Promise<void> {
  const key = legacyKeys.sessionHash(s.project_id, s.id);
  await redis.hset(key, {
    id: s.id,
    project_id: s.project_id,
    title: s.title,
    description: s.description ?? '',
    created_at: s.created_at,
    updated_at: s.updated_at,
    status: s.status,
    metadata: pyJson(s.metadata),
    message_count: String(s.message_count),
    last_message_at: s.last_message_at ?? '',
  });
  await redis.expire(key, ttl);
  await redis.sadd(legacyKeys.sessionSet(s.project_id), s.id);
}

/** The seed's store_chat_message: SETEX body, LPUSH id, HSET last_message_at, HINCRBY message_count. */
export async function storeChatMessage(redis: Redis, m: OldMessage, ttl = TTL): Promise<void> {
  const base = legacyKeys.sessionHash(m.project_id, m.session_id);
  await redis.setex(legacyKeys.messageBody(m.project_id, m.session_id, m.id), ttl, pyJson(m));
  await redis.lpush(legacyKeys.messageList(m.project_id, m.session_id), m.id);
  await redis.hset(base, 'last_message_at', m.updated_at);
  await redis.hincrby(base, 'message_count', 1);
}

/**
 * The same four commands per message, sent in one pipeline per chunk (same order, same result; only
 * fewer round trips) for fixtures of many thousand messages.
 */
export async function storeChatMessagesFast(redis: Redis, messages: OldMessage[], ttl = TTL): Promise<void> {
  for (let i = 0; i < messages.length; i += 2000) {
    const p = redis.pipeline();
    for (const m of messages.slice(i, i + 2000)) {
      const base = legacyKeys.sessionHash(m.project_id, m.session_id);
      p.setex(legacyKeys.messageBody(m.project_id, m.session_id, m.id), ttl, pyJson(m));
      p.lpush(legacyKeys.messageList(m.project_id, m.session_id), m.id);
      p.hset(base, 'last_message_at', m.updated_at);
      p.hincrby(base, 'message_count', 1);
    }
    const results = await p.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }
}

/**
 * Stores messages the seed's way with a one-second TTL and waits until Redis has expired their bodies:
 * their ids stay in the session's list, the bodies are gone (what old deployments hold).
 */
export async function storeExpiredMessages(redis: Redis, messages: OldMessage[]): Promise<void> {
  for (const m of messages) await storeChatMessage(redis, m, 1);
  const bodyKeys = messages.map((m) => legacyKeys.messageBody(m.project_id, m.session_id, m.id));
  await waitFor(async () => (await redis.exists(...bodyKeys)) === 0, 15_000);
}

/** An entry of the old memory layout (chat entries and other memory types alike). */
export async function writeMemoryEntry(redis: Redis, pid: string, type: string, key: string, value: unknown): Promise<void> {
  await redis.set(legacyKeys.memory(pid, type, key), pyJson(value));
}

/** The old `session_<sid>` blob. */
export async function writeSessionBlob(
  redis: Redis,
  blob: { id: string; project_id: string; title?: string; created_at?: string; messages: OldMessage[] },
): Promise<void> {
  await redis.set(legacyKeys.blob(blob.id), pyJson(blob));
}
