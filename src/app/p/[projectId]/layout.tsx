import { notFound } from 'next/navigation';
import type { ReactNode } from 'react';
import { ProjectLive } from '~/client/project-live';
import { ProjectShell } from '~/components/project-shell';
import { getProjectAccess, getQueryClient, HydrateClient, trpc } from '~/server/trpc/rsc';

/**
 * Everything of one project that outlives a session switch: the live event sync (one SSE per browser
 * for the project, see src/client/event-sync.ts), the sessions sidebar and the member list.
 */
export default async function ProjectLayout({
  children,
  params,
}: {
  children: ReactNode;
  params: Promise<{ projectId: string }>;
}) {
  const { projectId } = await params;
  const access = await getProjectAccess(projectId);
  // Signed out: the page itself sends the visitor to sign in, knowing the exact path to come back to.
  if (access.kind === 'signed-out') return children;
  if (access.kind === 'not-found') notFound();

  await getQueryClient().prefetchQuery(trpc.session.list.queryOptions({ projectId }));
  return (
    <HydrateClient>
      <ProjectLive key={projectId} projectId={projectId} viewer={access.viewer}>
        <ProjectShell projectId={projectId} viewer={access.viewer}>
          {children}
        </ProjectShell>
      </ProjectLive>
    </HydrateClient>
  );
}
