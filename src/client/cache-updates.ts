/**
 * Pure cache updates: how one piece of server state (an event's payload, a mutation's answer) is
 * folded into what React Query holds. No React, no QueryClient, no I/O, so every rule here is unit
 * tested (cache-updates.test.ts) and every tab applies events exactly the same way.
 *
 * The rules that keep one conversation consistent across tabs, retries and reconnects:
 * - messages are keyed by id and ordered by seq (never by time); applying the same message twice,
 *   an older copy after a newer one, or a provisional (failover) copy after the stored one, changes
 *   nothing;
 * - optimistic messages live beside the pages (the outbox), never inside them, so a refetch cannot
 *   drop a message that is still being sent, and the timeline shows one copy per id.
 */
import type { InfiniteData } from '@tanstack/react-query';
import { isProvisional } from '~/shared/provisional';
import { mentionsUser } from '~/shared/mentions';
import type { MemberDTO, MessageDTO, MessagePage, PresenceDTO, ProjectDetailDTO, ReactionDTO, SessionDTO } from '~/shared/types';

/** What `message.list` as an infinite query holds: pages[0] is the newest page, items ascend by seq. */
export type MessagePages = InfiniteData<MessagePage, number | null>;

// ------------------------------------------------------------------------------------ messages

/** The highest seq this cache knows for the session (0 when it knows the session is empty). */
export function newestSeq(data: MessagePages): number {
  const items = data.pages[0]?.items ?? [];
  return items.at(-1)?.seq ?? 0;
}

/**
 * True when `message` is newer than anything cached but not the very next seq: messages in between
 * were missed (e.g. sent between the server render and the start of the subscription), so the
 * query must be refetched. Seqs are consecutive per session, which makes this exact.
 */
export function hasGapBefore(data: MessagePages, message: MessageDTO): boolean {
  return message.seq > newestSeq(data) + 1;
}

export { isProvisional };

/**
 * Whether `incoming` should replace `current` (same id): never go back to an older state. A
 * provisional copy (answered by the failover path, its seq not final) never replaces a stored one,
 * and the stored one always replaces it: both may carry the same updatedAt.
 */
function isSameOrNewer(incoming: MessageDTO, current: MessageDTO): boolean {
  const provisional = isProvisional(incoming);
  if (provisional !== isProvisional(current)) return !provisional;
  return incoming.updatedAt >= current.updatedAt;
}

/** Inserts `message` into `items` (ascending by seq) at its place; returns a new array. */
function insertBySeq(items: MessageDTO[], message: MessageDTO): MessageDTO[] {
  let at = items.length;
  while (at > 0 && items[at - 1]!.seq > message.seq) at--;
  return [...items.slice(0, at), message, ...items.slice(at)];
}

function replacePage(data: MessagePages, index: number, page: MessagePage): MessagePages {
  const pages = data.pages.slice();
  pages[index] = page;
  return { ...data, pages };
}

/**
 * Inserts a stored message or replaces the cached copy with the same id, keeping seq order.
 * Idempotent: the mutation's answer and the event for the same message leave one copy, and a stale
 * copy (older updatedAt) never overwrites a newer one. A message older than the loaded pages (while
 * older pages remain unloaded) is left out: it arrives with its page when the user scrolls up.
 */
export function upsertMessage(data: MessagePages, message: MessageDTO): MessagePages {
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p]!;
    const i = page.items.findIndex((m) => m.id === message.id);
    if (i === -1) continue;
    const current = page.items[i]!;
    if (!isSameOrNewer(message, current)) return data;
    if (current.seq === message.seq) {
      const items = page.items.slice();
      items[i] = message;
      return replacePage(data, p, { ...page, items });
    }
    // A seq never changes on the server; if it ever did, move the message to its new place.
    const without = replacePage(data, p, { ...page, items: page.items.filter((m) => m.id !== message.id) });
    return upsertMessage(without, message);
  }

  if (data.pages.length === 0) return data;
  const newest = data.pages[0]!;
  if (newest.items.length === 0 || message.seq > newest.items.at(-1)!.seq) {
    return replacePage(data, 0, { ...newest, items: [...newest.items, message] });
  }
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p]!;
    const lowest = page.items[0];
    if (lowest && message.seq >= lowest.seq) {
      return replacePage(data, p, { ...page, items: insertBySeq(page.items, message) });
    }
  }
  // Older than every loaded page: only place it when the oldest page is the start of the session.
  const last = data.pages.length - 1;
  const oldest = data.pages[last]!;
  if (oldest.nextCursor === null) {
    return replacePage(data, last, { ...oldest, items: insertBySeq(oldest.items, message) });
  }
  return data;
}

/** All cached messages, oldest first. */
export function flattenPages(data: MessagePages | undefined): MessageDTO[] {
  if (!data) return [];
  const out: MessageDTO[] = [];
  for (let p = data.pages.length - 1; p >= 0; p--) out.push(...data.pages[p]!.items);
  return out;
}

// ------------------------------------------------------------------------------------ sessions

/** Server order: most recent activity (last message, else creation) first. */
function activity(session: SessionDTO): string {
  return session.lastMessageAt ?? session.createdAt;
}

function byActivity(a: SessionDTO, b: SessionDTO): number {
  const x = activity(a);
  const y = activity(b);
  return x === y ? 0 : x < y ? 1 : -1;
}

/** Merges two copies of one session: counters and times only move forward. */
function mergeSession(current: SessionDTO, incoming: SessionDTO): SessionDTO {
  const base = incoming.updatedAt >= current.updatedAt ? incoming : current;
  return {
    ...base,
    messageCount: Math.max(current.messageCount, incoming.messageCount),
    lastMessageAt: maxIso(current.lastMessageAt, incoming.lastMessageAt),
  };
}

function maxIso(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a >= b ? a : b;
}

/** Inserts or replaces a session (session.created / session.updated), keeping recency order. */
export function upsertSession(list: SessionDTO[], session: SessionDTO): SessionDTO[] {
  const i = list.findIndex((s) => s.id === session.id);
  const next = i === -1 ? [session, ...list] : list.with(i, mergeSession(list[i]!, session));
  return next.sort(byActivity);
}

/** Applies a session (from an event) to a cached `session.get`. */
export function mergeSessionDetail(current: SessionDTO, session: SessionDTO): SessionDTO {
  return current.id === session.id ? mergeSession(current, session) : current;
}

/**
 * What a stored message tells about its session: it has at least `seq` messages (seq counts every
 * append, and messages are never removed, only marked deleted) and activity at `createdAt`.
 * Idempotent, so the mutation's answer and the event may both apply it.
 */
export function noteMessageInSession(session: SessionDTO, message: MessageDTO): SessionDTO {
  if (session.id !== message.sessionId) return session;
  const messageCount = Math.max(session.messageCount, message.seq);
  const lastMessageAt = maxIso(session.lastMessageAt, message.createdAt);
  if (messageCount === session.messageCount && lastMessageAt === session.lastMessageAt) return session;
  return { ...session, messageCount, lastMessageAt, updatedAt: maxIso(session.updatedAt, message.createdAt)! };
}

export function noteMessageInSessions(list: SessionDTO[], message: MessageDTO): SessionDTO[] {
  const i = list.findIndex((s) => s.id === message.sessionId);
  if (i === -1) return list;
  const updated = noteMessageInSession(list[i]!, message);
  if (updated === list[i]) return list;
  return list.with(i, updated).sort(byActivity);
}

// ------------------------------------------------------------------------------------ members

export function removeMember(project: ProjectDetailDTO, member: MemberDTO): ProjectDetailDTO {
  if (!project.members.some((m) => m.id === member.id)) return project;
  return { ...project, members: project.members.filter((m) => m.id !== member.id) };
}

export function addMember(project: ProjectDetailDTO, member: MemberDTO): ProjectDetailDTO {
  if (project.members.some((m) => m.id === member.id)) return project;
  const members = [...project.members, member].sort((a, b) => a.username.localeCompare(b.username));
  return { ...project, members };
}

// ------------------------------------------------------------------------------------ outbox

/** A message this tab is sending (or failed to send): shown at once, replaced by the stored copy. */
export interface OutboxEntry {
  id: string;
  sessionId: string;
  content: string;
  createdAt: string;
  state: 'sending' | 'failed';
  error: string | null;
}

export function outboxAdd(list: OutboxEntry[], entry: OutboxEntry): OutboxEntry[] {
  return list.some((e) => e.id === entry.id) ? list : [...list, entry];
}

export function outboxUpdate(
  list: OutboxEntry[],
  id: string,
  patch: Partial<Pick<OutboxEntry, 'state' | 'error'>>,
): OutboxEntry[] {
  return list.map((e) => (e.id === id ? { ...e, ...patch } : e));
}

export function outboxRemove(list: OutboxEntry[], id: string): OutboxEntry[] {
  return list.filter((e) => e.id !== id);
}

export type TimelineItem =
  | { kind: 'stored'; message: MessageDTO }
  | { kind: 'outbox'; entry: OutboxEntry };

/**
 * What the log shows: stored messages in seq order, then this tab's unsent ones in the order they
 * were written. An outbox entry whose id is already stored is the same message: shown once, stored.
 */
export function timeline(stored: MessageDTO[], outbox: OutboxEntry[]): TimelineItem[] {
  const ids = new Set(stored.map((m) => m.id));
  const items: TimelineItem[] = stored.map((message) => ({ kind: 'stored', message }));
  for (const entry of outbox) if (!ids.has(entry.id)) items.push({ kind: 'outbox', entry });
  return items;
}

// ------------------------------------------------------------------------------------ message actions

/**
 * Replaces the cached copy of `message` (same id) whatever its updatedAt: for optimistic changes and
 * their rollback, which must win over the copy they were made from. A message not cached is left out.
 */
export function replaceMessage(data: MessagePages, message: MessageDTO): MessagePages {
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p]!;
    const i = page.items.findIndex((m) => m.id === message.id);
    if (i === -1) continue;
    return replacePage(data, p, { ...page, items: page.items.with(i, message) });
  }
  return data;
}

/** The cached copy of a message, if any. */
export function findMessage(data: MessagePages | undefined, id: string): MessageDTO | undefined {
  for (const page of data?.pages ?? []) {
    const found = page.items.find((m) => m.id === id);
    if (found) return found;
  }
  return undefined;
}

/** What `message.react` will make of `message` for this user: the same toggle as the server's. */
export function toggleReaction(message: MessageDTO, emoji: string, userId: string): MessageDTO {
  const mine = (r: ReactionDTO) => r.emoji === emoji && r.userId === userId;
  const reactions = message.reactions.some(mine)
    ? message.reactions.filter((r) => !mine(r))
    : [...message.reactions, { emoji, userId }];
  return { ...message, reactions };
}

export function editedMessage(message: MessageDTO, content: string): MessageDTO {
  return message.content === content ? message : { ...message, content, isEdited: true };
}

export function deletedMessage(message: MessageDTO): MessageDTO {
  return { ...message, content: '', deleted: true, reactions: [], metadata: {}, aiResponse: null };
}

export interface ReactionGroup {
  emoji: string;
  userIds: string[];
}

/** Reactions grouped by emoji, in the order each emoji was first used (chips keep their place). */
export function groupReactions(reactions: ReactionDTO[]): ReactionGroup[] {
  const groups = new Map<string, string[]>();
  for (const r of reactions) {
    const users = groups.get(r.emoji) ?? [];
    if (!users.includes(r.userId)) users.push(r.userId);
    groups.set(r.emoji, users);
  }
  return [...groups].map(([emoji, userIds]) => ({ emoji, userIds }));
}

// ------------------------------------------------------------------------------------ read markers

/** What `session.readMarkers` holds: session id -> last-read seq (absent: 0). */
export type ReadMarkers = Record<string, number>;

/** Moves a session's marker forward only (markers are monotonic on the server too). */
export function advanceMarker(markers: ReadMarkers, sessionId: string, seq: number): ReadMarkers {
  return (markers[sessionId] ?? 0) >= seq ? markers : { ...markers, [sessionId]: seq };
}

/** Unread messages of a session: seqs are gap-free, so lastSeq (= messageCount) - lastRead. */
export function unreadCount(session: Pick<SessionDTO, 'id' | 'messageCount'>, markers: ReadMarkers | undefined): number {
  return Math.max(0, session.messageCount - (markers?.[session.id] ?? 0));
}

// ------------------------------------------------------------------------------------ mentions

/** What `session.mentions` holds: session id -> seqs of messages that mention the viewer (unread ones, when fetched). */
export type MentionSeqs = Record<string, number[]>;

/**
 * Keeps the viewer's mention seqs current with a message as it now is (created, edited, deleted): the
 * same rule as the server's count (src/shared/mentions.ts; the author's own messages never count).
 */
export function noteMention(
  mentions: MentionSeqs,
  message: Pick<MessageDTO, 'sessionId' | 'seq' | 'authorId' | 'content' | 'deleted'>,
  viewer: { id: string; username: string },
): MentionSeqs {
  const seqs = mentions[message.sessionId] ?? [];
  const has = seqs.includes(message.seq);
  const mentionsViewer = message.authorId !== viewer.id && !message.deleted && mentionsUser(message.content, viewer.username);
  if (mentionsViewer === has) return mentions;
  const next = mentionsViewer ? [...seqs, message.seq].sort((a, b) => a - b) : seqs.filter((s) => s !== message.seq);
  return { ...mentions, [message.sessionId]: next };
}

/** Unread mentions of a session: those after the viewer's marker. */
export function unreadMentionCount(mentions: MentionSeqs | undefined, sessionId: string, markers: ReadMarkers | undefined): number {
  const marker = markers?.[sessionId] ?? 0;
  return (mentions?.[sessionId] ?? []).filter((seq) => seq > marker).length;
}

// ------------------------------------------------------------------------------------ presence

/** Replaces a member's presence with a newer heartbeat (an older one, arriving late, is ignored). */
export function upsertPresence(list: PresenceDTO[], p: PresenceDTO): PresenceDTO[] {
  const i = list.findIndex((x) => x.userId === p.userId);
  if (i === -1) return [...list, p];
  return list[i]!.until > p.until ? list : list.with(i, p);
}

/** The presence of a member now: their state while the heartbeat holds, else null (offline). */
export function presenceOf(list: PresenceDTO[] | undefined, userId: string, now: number): PresenceDTO['state'] | null {
  const p = list?.find((x) => x.userId === userId);
  return p && p.until > now ? p.state : null;
}

// ------------------------------------------------------------------------------------ typing

/** Who is typing where: session id -> user id -> {username, heard (ms)}. Ephemeral, never fetched. */
export type TypingState = Record<string, Record<string, { username: string; heard: number }>>;

export function applyTyping(
  state: TypingState,
  e: { sessionId: string; userId: string; username: string; typing: boolean },
  now: number,
): TypingState {
  const session = { ...state[e.sessionId] };
  if (e.typing) session[e.userId] = { username: e.username, heard: now };
  else if (session[e.userId]) delete session[e.userId];
  else return state;
  return { ...state, [e.sessionId]: session };
}

/** The names typing in a session now: heard from within `expiryMs`, the viewer left out. */
export function typists(state: TypingState | undefined, sessionId: string, viewerId: string, now: number, expiryMs: number): string[] {
  return Object.entries(state?.[sessionId] ?? {})
    .filter(([uid, t]) => uid !== viewerId && now - t.heard < expiryMs)
    .map(([, t]) => t.username)
    .sort();
}
