'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { unreadCount, unreadMentionCount, type MentionSeqs, type ReadMarkers } from '~/client/cache-updates';
import type { SessionDTO } from '~/shared/types';
import { useReadMarkers } from '~/client/use-read-state';
import { plural } from './format';
import { MentionBadge, UnreadBadge } from './unread-badge';
import { NewSessionButton } from './new-session-button';
import { When } from './when';

export function SessionsNav({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const { sessionId } = useParams<{ sessionId?: string }>();
  const { data: sessions = [] } = useQuery(trpc.session.list.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const markers = useReadMarkers(projectId);
  const { data: mentions } = useQuery(trpc.session.mentions.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const active = sessions.filter((s) => s.status !== 'archived');
  const archived = sessions.filter((s) => s.status === 'archived');

  return (
    <nav aria-label="Sessions" className="panel sessions">
      <div className="panel-head">
        <h2>Sessions</h2>
        {/* With no session yet the page itself offers the button (one "New session" per page). */}
        {sessions.length > 0 && <NewSessionButton projectId={projectId} />}
      </div>
      {sessions.length === 0 ? (
        <p className="muted small">No sessions yet.</p>
      ) : (
        <>
          <SessionList projectId={projectId} sessions={active} current={sessionId} markers={markers} mentions={mentions} />
          {archived.length > 0 && (
            // Open by itself when the current session is archived, so it is never hidden.
            <details className="archived-sessions" open={archived.some((s) => s.id === sessionId) || undefined}>
              <summary>Archived ({archived.length})</summary>
              <SessionList projectId={projectId} sessions={archived} current={sessionId} markers={markers} mentions={mentions} />
            </details>
          )}
        </>
      )}
    </nav>
  );
}

function SessionList({
  projectId,
  sessions,
  current: currentId,
  markers,
  mentions,
}: {
  projectId: string;
  sessions: SessionDTO[];
  current: string | undefined;
  markers: ReadMarkers | undefined;
  mentions: MentionSeqs | undefined;
}) {
  return (
    <ul className="session-list">
      {sessions.map((s) => {
        const current = s.id === currentId;
        return (
          <li key={s.id} className={`session-item${current ? ' current' : ''}${s.status === 'archived' ? ' archived' : ''}`}>
            <Link href={`/p/${projectId}/s/${s.id}`} className="stretched" aria-current={current ? 'page' : undefined}>
              {s.title}
            </Link>
            {/* Until the markers are known, show no count rather than "everything unread". */}
            {markers && <UnreadBadge count={unreadCount(s, markers)} />}
            {markers && <MentionBadge count={unreadMentionCount(mentions, s.id, markers)} />}
            <span className="session-meta">
              {plural(s.messageCount, 'message')} · <When iso={s.lastMessageAt ?? s.createdAt} />
            </span>
          </li>
        );
      })}
    </ul>
  );
}
