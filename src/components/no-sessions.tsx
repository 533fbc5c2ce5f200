'use client';
import { useQuery } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useEffect } from 'react';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { NewSessionButton } from './new-session-button';

/** A project without sessions. When one appears (here or in another tab), it opens. */
export function NoSessions({ projectId, projectName }: { projectId: string; projectName: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const { data: sessions = [] } = useQuery(trpc.session.list.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const first = sessions[0];
  useEffect(() => {
    if (first) router.replace(`/p/${projectId}/s/${first.id}`);
  }, [first, projectId, router]);

  return (
    <main className="empty-state">
      <h1>{projectName}</h1>
      <p className="muted">No conversations here yet. Start a session to talk with your team and the AI PM.</p>
      {!first && <NewSessionButton projectId={projectId} className="button primary" />}
    </main>
  );
}
