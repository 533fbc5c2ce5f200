/**
 * Writes events (and mutation answers) into one tab's React Query caches, using the pure rules of
 * ./cache-updates.ts. Where an event carries the new state it is written with setQueryData; where the
 * cache cannot take it (a gap in seqs, a resync) the affected queries are refetched.
 *
 * A refetch races with events: an event applied while the request is in flight is overwritten by
 * the (older) answer. So the last events are kept in a small buffer and re-applied after every
 * refetch and whenever a query first appears (e.g. a session page hydrated from the server); the
 * rules are idempotent and never go back in time, so re-applying is always safe.
 */
import type { QueryClient } from '@tanstack/react-query';
import type { TRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { AppRouter } from '~/server/trpc/root';
import type { ChatEvent, MessageDTO, ProjectDTO, SessionDTO } from '~/shared/types';
import {
  addMember,
  advanceMarker,
  applyTyping,
  upsertPresence,
  hasGapBefore,
  mergeSessionDetail,
  noteMention,
  noteMessageInSession,
  noteMessageInSessions,
  outboxRemove,
  removeMember,
  upsertMessage,
  upsertSession,
  type MessagePages,
  type OutboxEntry,
  type TypingState,
} from './cache-updates';
import type { ConnectionStatus } from './event-sync';

const REPLAY_BUFFER = 500;

type Trpc = TRPCOptionsProxy<AppRouter>;

export function connectionKey(projectId: string) {
  return ['parley', 'connection', projectId] as const;
}

/** Who is typing in the project's sessions (ephemeral signals; see ./cache-updates.ts TypingState). */
export function typingKey(projectId: string) {
  return ['parley', 'typing', projectId] as const;
}

/** This tab's unsent messages of a session (see ./use-send-message.ts). */
export function outboxKey(projectId: string, sessionId: string) {
  return ['parley', 'outbox', projectId, sessionId] as const;
}

export class LiveCache {
  private recent: ChatEvent[] = [];

  constructor(
    private readonly qc: QueryClient,
    private readonly trpc: Trpc,
    readonly projectId: string,
    /** The signed-in user: their own messages move their read marker (own messages are never unread). */
    private readonly viewerId: string | null = null,
    /** Their username: messages that mention it count as their mentions (src/shared/mentions.ts). */
    private readonly viewerName: string | null = null,
  ) {}

  /** Applies one change event (never `ready`/`resync`: those go to refetchAll). */
  apply(event: ChatEvent): void {
    // Typing is never replayed: it would crowd real events out of the buffer and be stale anyway.
    if (event.type !== 'typing' && event.type !== 'presence') this.remember(event);
    this.write(event, true);
  }

  /** The server's answer to this tab's own send: same rules as the `message.created` event. */
  applyStoredMessage(message: MessageDTO): void {
    this.apply({ type: 'message.created', message });
  }

  /** The server's answer to a session create / update. */
  applySession(session: SessionDTO): void {
    this.apply({ type: 'session.updated', session });
  }

  /** Refetches everything shown for the project, then re-applies recent events over the answers. */
  refetchAll(): void {
    const { trpc, projectId } = this;
    void Promise.all([
      this.qc.invalidateQueries({ queryKey: trpc.project.get.queryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.session.list.queryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.session.get.queryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.message.list.infiniteQueryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.session.readMarkers.queryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.session.mentions.queryKey({ projectId }) }),
      this.qc.invalidateQueries({ queryKey: trpc.project.presence.queryKey({ projectId }) }),
    ]).then(() => this.replay());
  }

  /** Re-applies the buffered events (idempotent): after a refetch, or when a query first appears. */
  replay(): void {
    for (const event of this.recent) this.write(event, false);
  }

  setStatus(status: ConnectionStatus): void {
    const was = this.qc.getQueryData<ConnectionStatus>(connectionKey(this.projectId));
    this.qc.setQueryData(connectionKey(this.projectId), status);
    // Ephemeral signals are not caught up after a reconnect (they are not in the log): ask again.
    if (status === 'live' && was !== 'live') {
      const { trpc, projectId } = this;
      void this.qc.invalidateQueries({ queryKey: trpc.session.readMarkers.queryKey({ projectId }) });
      void this.qc.invalidateQueries({ queryKey: trpc.project.presence.queryKey({ projectId }) });
    }
  }

  private remember(event: ChatEvent): void {
    this.recent.push(event);
    if (this.recent.length > REPLAY_BUFFER) this.recent.splice(0, this.recent.length - REPLAY_BUFFER);
  }

  private write(event: ChatEvent, live: boolean): void {
    const { qc, trpc, projectId } = this;
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted': {
        const message = event.message;
        const filter = {
          queryKey: trpc.message.list.infiniteQueryKey({ projectId, sessionId: message.sessionId }),
        };
        let gap = false;
        qc.setQueriesData<MessagePages>(filter, (data) => {
          if (!data) return data;
          if (live && event.type === 'message.created' && hasGapBefore(data, message)) gap = true;
          return upsertMessage(data, message);
        });
        if (gap) void qc.invalidateQueries(filter).then(() => this.replay());
        // Stored, whatever this tab's own request says (it may yet time out): drop the local copy.
        qc.setQueryData<OutboxEntry[]>(outboxKey(projectId, message.sessionId), (list) =>
          list?.some((e) => e.id === message.id) ? outboxRemove(list, message.id) : list,
        );
        this.noteMessage(message);
        const { viewerId, viewerName } = this;
        if (viewerId !== null && viewerName !== null) {
          qc.setQueryData(
            trpc.session.mentions.queryKey({ projectId }),
            (mentions) => mentions && noteMention(mentions, message, { id: viewerId, username: viewerName }),
          );
        }
        // A message ends its author's typing.
        if (live && event.type === 'message.created') {
          qc.setQueryData<TypingState>(typingKey(projectId), (state) =>
            state && applyTyping(state, { sessionId: message.sessionId, userId: message.authorId, username: '', typing: false }, Date.now()),
          );
        }
        if (event.type === 'message.created' && message.authorId === this.viewerId) {
          this.advanceMarker(message.sessionId, message.seq);
        }
        return;
      }
      case 'read.updated':
        this.advanceMarker(event.sessionId, event.lastRead);
        return;
      case 'presence':
        qc.setQueryData(trpc.project.presence.queryKey({ projectId }), (list) => list && upsertPresence(list, event));
        return;
      case 'typing':
        // Only as it happens: a replayed "started typing" would be stale.
        if (live) qc.setQueryData<TypingState>(typingKey(projectId), (state) => applyTyping(state ?? {}, event, Date.now()));
        return;
      case 'session.created':
      case 'session.updated': {
        const session = event.session;
        qc.setQueryData(trpc.session.list.queryKey({ projectId }), (list) => list && upsertSession(list, session));
        qc.setQueryData(
          trpc.session.get.queryKey({ projectId, sessionId: session.id }),
          (current) => current && mergeSessionDetail(current, session),
        );
        return;
      }
      case 'member.added':
        qc.setQueryData(trpc.project.get.queryKey({ projectId }), (project) => project && addMember(project, event.member));
        return;
      case 'member.removed':
        qc.setQueryData(trpc.project.get.queryKey({ projectId }), (project) => project && removeMember(project, event.member));
        return;
      case 'ready':
      case 'resync':
        this.refetchAll();
        return;
    }
  }

  /** Moves this user's read marker of a session forward in the cache (a markRead answer, an event). */
  advanceMarker(sessionId: string, seq: number): void {
    const { qc, trpc, projectId } = this;
    qc.setQueryData(trpc.session.readMarkers.queryKey({ projectId }), (markers) => markers && advanceMarker(markers, sessionId, seq));
  }

  private noteMessage(message: MessageDTO): void {
    const { qc, trpc, projectId } = this;
    qc.setQueryData(trpc.session.list.queryKey({ projectId }), (list) => list && noteMessageInSessions(list, message));
    qc.setQueryData(
      trpc.session.get.queryKey({ projectId, sessionId: message.sessionId }),
      (session) => session && noteMessageInSession(session, message),
    );
    // Every page of the list, whatever its input.
    qc.setQueriesData<ProjectDTO[]>({ queryKey: trpc.project.list.queryKey() }, (projects) =>
      projects?.map((p) =>
        p.id === projectId && p.lastActivityAt < message.createdAt ? { ...p, lastActivityAt: message.createdAt } : p,
      ),
    );
  }
}
