import 'server-only';
import type { Redis } from 'ioredis';
import { parseLegacyKey, type LegacyKey } from '~/server/redis/keys';
import {
  CHAT_MEMORY_TYPES,
  legacyMessageSchema,
  legacySessionBlobSchema,
  parseLegacyTime,
  type LegacyMessage,
} from './format';

/**
 * Reads the old storage (read only: GET, HGETALL, SMEMBERS, LRANGE, SCAN - never a write) into one
 * picture: projects, their sessions, each session's messages in the order they were written, and
 * everything that cannot be imported with the reason why.
 */

export type Layout = 'interim' | 'blob' | 'memory';
const LAYOUT_RANK: Record<Layout, number> = { interim: 0, blob: 1, memory: 2 };

export interface SourceMessage {
  legacyId: string;
  layout: Layout;
  /** The key the body was read from. */
  sourceKey: string;
  /** Microseconds since the epoch of created_at: the order. */
  time: number;
  /** Position in its list (oldest first) or blob: the tie-break for equal times. */
  position: number;
  message: LegacyMessage;
}

export interface SourceSession {
  legacyProjectId: string;
  legacySessionId: string;
  title: string;
  description: string | null;
  createdAt: string | null;
  /** In import order: by created_at, then list order. */
  messages: SourceMessage[];
  /** Ids listed in the session's list whose SETEX body has expired: reported, never invented. */
  expired: string[];
}

export interface SourceProject {
  legacyProjectId: string;
  sessions: Map<string, SourceSession>;
}

export interface Skipped {
  key: string;
  id?: string;
  reason: string;
}

export interface SourceSnapshot {
  projects: Map<string, SourceProject>;
  skipped: Skipped[];
  /** Memory entries of other types (left alone), counted by type. */
  otherMemory: Record<string, number>;
  /** Every key the tool read: what the backup holds. */
  keysRead: string[];
}

export const MEMORY_SESSION_ID = 'memory';

export async function readSource(redis: Redis, opts: { project?: string | undefined } = {}): Promise<SourceSnapshot> {
  const found: Array<{ key: string; parsed: LegacyKey }> = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', '*', 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      const parsed = parseLegacyKey(key);
      if (parsed) found.push({ key, parsed });
    }
  } while (cursor !== '0');
  // SCAN may return a key twice.
  const unique = [...new Map(found.map((f) => [f.key, f])).values()].sort((a, b) => a.key.localeCompare(b.key));

  const snap: SourceSnapshot = { projects: new Map(), skipped: [], otherMemory: {}, keysRead: [] };
  const byId = new Map<string, { pid: string; sid: string; m: SourceMessage }>();
  const wanted = (pid: string) => opts.project === undefined || opts.project === pid;

  const sessionOf = (pid: string, sid: string): SourceSession => {
    let p = snap.projects.get(pid);
    if (!p) snap.projects.set(pid, (p = { legacyProjectId: pid, sessions: new Map() }));
    let s = p.sessions.get(sid);
    if (!s) {
      s = { legacyProjectId: pid, legacySessionId: sid, title: '', description: null, createdAt: null, messages: [], expired: [] };
      p.sessions.set(sid, s);
    }
    return s;
  };

  const add = (pid: string, sid: string, m: SourceMessage) => {
    const prior = byId.get(`${pid}\n${m.legacyId}`);
    if (prior) {
      const keepNew = LAYOUT_RANK[m.layout] < LAYOUT_RANK[prior.m.layout];
      const [kept, dropped] = keepNew ? [{ pid, sid, m }, prior] : [prior, { pid, sid, m }];
      snap.skipped.push({
        key: dropped.m.sourceKey,
        id: m.legacyId,
        reason:
          kept.sid === dropped.sid
            ? `duplicate of the ${kept.m.layout} copy (${kept.m.sourceKey})`
            : `id already used in session ${kept.sid} (${kept.m.sourceKey})`,
      });
      if (!keepNew) return;
      const list = sessionOf(prior.pid, prior.sid).messages;
      list.splice(list.indexOf(prior.m), 1);
    }
    byId.set(`${pid}\n${m.legacyId}`, { pid, sid, m });
    sessionOf(pid, sid).messages.push(m);
  };

  const parseMessage = (raw: unknown, key: string): LegacyMessage | null => {
    const r = legacyMessageSchema.safeParse(raw);
    if (r.success) {
      if (r.data.content.includes('\u0000') || !r.data.content.isWellFormed()) {
        snap.skipped.push({ key, id: r.data.id, reason: 'content has NUL characters or broken Unicode (not storable)' });
        return null;
      }
      return r.data;
    }
    const id = typeof raw === 'object' && raw && 'id' in raw ? String((raw).id) : undefined;
    snap.skipped.push({ key, ...(id ? { id } : {}), reason: `unreadable message: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}` });
    return null;
  };

  const parseJson = (key: string, text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      snap.skipped.push({ key, reason: 'not valid JSON' });
      return undefined;
    }
  };

  const message = (raw: unknown, key: string, layout: Layout, position: number): SourceMessage | null => {
    const m = parseMessage(raw, key);
    if (!m) return null;
    return { legacyId: m.id, layout, sourceKey: key, time: parseLegacyTime(m.created_at)!, position, message: m };
  };

  // 1. The interim layout: session hashes, session sets, lists and their SETEX bodies.
  const interim = unique.filter(({ parsed }) => parsed.kind !== 'memory' && parsed.kind !== 'blob' && wanted(parsed.pid));
  const hashes = interim.filter((f) => f.parsed.kind === 'sessionHash');
  const sets = interim.filter((f) => f.parsed.kind === 'sessionSet');
  const lists = interim.filter((f) => f.parsed.kind === 'messageList');
  const bodyKeys = new Set(interim.filter((f) => f.parsed.kind === 'messageBody').map((f) => f.key));

  const hashReplies = await readAll(redis, hashes.map((h) => ['hgetall', h.key]));
  hashes.forEach((h, i) => {
    const p = h.parsed as Extract<LegacyKey, { kind: 'sessionHash' }>;
    const [err, value] = hashReplies[i]!;
    if (err) return snap.skipped.push({ key: h.key, reason: `cannot read: ${err.message}` });
    snap.keysRead.push(h.key);
    const r = value as Record<string, string>;
    const s = sessionOf(p.pid, p.sid);
    s.title = r.title ?? '';
    s.description = r.description ? r.description : null;
    s.createdAt = r.created_at ? r.created_at : null;
  });

  const setReplies = await readAll(redis, sets.map((s) => ['smembers', s.key]));
  sets.forEach((set, i) => {
    const p = set.parsed as Extract<LegacyKey, { kind: 'sessionSet' }>;
    const [err, value] = setReplies[i]!;
    if (err) return snap.skipped.push({ key: set.key, reason: `cannot read: ${err.message}` });
    snap.keysRead.push(set.key);
    // A session named here whose hash expired still gets its messages imported (title from the id).
    for (const sid of value as string[]) sessionOf(p.pid, sid);
  });

  const listReplies = await readAll(redis, lists.map((l) => ['lrange', l.key, '0', '-1']));
  for (const [i, l] of lists.entries()) {
    const p = l.parsed as Extract<LegacyKey, { kind: 'messageList' }>;
    const [err, value] = listReplies[i]!;
    if (err) {
      snap.skipped.push({ key: l.key, reason: `cannot read: ${err.message}` });
      continue;
    }
    snap.keysRead.push(l.key);
    const session = sessionOf(p.pid, p.sid);
    // LPUSH put the newest first: reversed, the list is the order the messages were written in.
    const ids = (value as string[]).slice().reverse();
    const seen = new Set<string>();
    const order: string[] = [];
    for (const id of ids) {
      if (seen.has(id)) {
        snap.skipped.push({ key: l.key, id, reason: 'listed twice (the old code pushed retries again); imported once' });
        continue;
      }
      seen.add(id);
      order.push(id);
    }
    const keysOfBodies = order.map((id) => `${l.key}:${id}`);
    const bodies = await mgetChunked(redis, keysOfBodies);
    order.forEach((id, pos) => {
      const key = keysOfBodies[pos]!;
      bodyKeys.delete(key);
      const body = bodies[pos];
      if (body === null || body === undefined) {
        session.expired.push(id);
        return;
      }
      snap.keysRead.push(key);
      const raw = parseJson(key, body);
      if (raw === undefined) return;
      const m = message(raw, key, 'interim', pos);
      if (!m) return;
      if (m.legacyId !== id) {
        snap.skipped.push({ key, id, reason: `body names another id (${m.legacyId})` });
        return;
      }
      add(p.pid, p.sid, m);
    });
  }

  // Bodies whose id is in no list (the LPUSH after the SETEX never ran): still messages, ordered by time.
  const orphans = [...bodyKeys];
  const orphanBodies = await mgetChunked(redis, orphans);
  orphans.forEach((key, i) => {
    const p = parseLegacyKey(key) as Extract<LegacyKey, { kind: 'messageBody' }>;
    const body = orphanBodies[i];
    if (body === null || body === undefined) return; // expired since the scan
    snap.keysRead.push(key);
    const raw = parseJson(key, body);
    if (raw === undefined) return;
    const m = message(raw, key, 'interim', Number.MAX_SAFE_INTEGER);
    if (m) add(p.pid, p.sid, m);
  });

  // 2. `session_<sid>` blobs.
  const blobs = unique.filter((f) => f.parsed.kind === 'blob');
  const blobValues = await readAll(redis, blobs.map((b) => ['get', b.key]));
  blobs.forEach((b, i) => {
    const sid = (b.parsed as Extract<LegacyKey, { kind: 'blob' }>).sid;
    const [err, value] = blobValues[i]!;
    if (err) return snap.skipped.push({ key: b.key, reason: `not a JSON string (${err.message})` });
    if (value === null) return;
    const raw = parseJson(b.key, value as string);
    if (raw === undefined) return;
    const blob = legacySessionBlobSchema.safeParse(raw);
    if (!blob.success) return snap.skipped.push({ key: b.key, reason: 'session blob without project_id' });
    if (!wanted(blob.data.project_id)) return;
    snap.keysRead.push(b.key);
    const s = sessionOf(blob.data.project_id, sid);
    s.title ||= blob.data.title ?? '';
    s.description ??= blob.data.description ?? null;
    s.createdAt ??= blob.data.created_at ?? null;
    (blob.data.messages ?? []).forEach((rawMessage, pos) => {
      const m = message(rawMessage, b.key, 'blob', pos);
      if (m) add(blob.data.project_id, sid, m);
    });
  });

  // 3. The memory layout: chat entries only; other memory types are left alone.
  const memory = unique.filter((f) => f.parsed.kind === 'memory' && wanted(f.parsed.pid));
  const chatMemory = memory.filter((f) => CHAT_MEMORY_TYPES.has((f.parsed as Extract<LegacyKey, { kind: 'memory' }>).type));
  for (const f of memory) {
    const type = (f.parsed as Extract<LegacyKey, { kind: 'memory' }>).type;
    if (!CHAT_MEMORY_TYPES.has(type)) snap.otherMemory[type] = (snap.otherMemory[type] ?? 0) + 1;
  }
  const memoryValues = await readAll(redis, chatMemory.map((f) => ['get', f.key]));
  chatMemory.forEach((f, i) => {
    const p = f.parsed as Extract<LegacyKey, { kind: 'memory' }>;
    const [err, value] = memoryValues[i]!;
    if (err) return snap.skipped.push({ key: f.key, reason: `not a JSON string (${err.message})` });
    if (value === null) return;
    snap.keysRead.push(f.key);
    const raw = parseJson(f.key, value as string);
    if (raw === undefined) return;
    const entries = Array.isArray(raw) ? raw : [raw];
    entries.forEach((entry, pos) => {
      const m = message(entry, f.key, 'memory', pos);
      if (m) add(p.pid, m.message.session_id ?? MEMORY_SESSION_ID, m);
    });
  });

  // Titles and order.
  for (const p of snap.projects.values()) {
    for (const s of p.sessions.values()) {
      if (!s.title.trim()) {
        s.title = s.legacySessionId === MEMORY_SESSION_ID ? 'Imported chat memory' : `Imported session ${s.legacySessionId}`;
      }
      s.messages.sort((a, b) => a.time - b.time || LAYOUT_RANK[a.layout] - LAYOUT_RANK[b.layout] || a.position - b.position);
    }
  }
  snap.keysRead = [...new Set(snap.keysRead)].sort();
  return snap;
}

type Reply = [Error | null, unknown];

async function readAll(redis: Redis, commands: string[][]): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < commands.length; i += 1000) {
    const p = redis.pipeline(commands.slice(i, i + 1000));
    out.push(...(((await p.exec()) ?? []) as Reply[]));
  }
  return out;
}

async function mgetChunked(redis: Redis, keyList: string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < keyList.length; i += 1000) {
    const chunk = keyList.slice(i, i + 1000);
    if (chunk.length > 0) out.push(...(await redis.mget(chunk)));
  }
  return out;
}

/** How many messages the snapshot will import, expired and skipped aside. */
export function countMessages(snap: SourceSnapshot): number {
  let n = 0;
  for (const p of snap.projects.values()) for (const s of p.sessions.values()) n += s.messages.length;
  return n;
}
