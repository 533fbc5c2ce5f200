import { notFound, redirect } from 'next/navigation';
import { signInPath } from '~/client/queries';
import { NoSessions } from '~/components/no-sessions';
import { getProjectAccess, getQueryClient, trpc } from '~/server/trpc/rsc';

/** Restores the project's most recent session; with none yet, offers to start one. */
export default async function ProjectPage({ params }: { params: Promise<{ projectId: string }> }) {
  const { projectId } = await params;
  const access = await getProjectAccess(projectId);
  if (access.kind === 'signed-out') redirect(signInPath(`/p/${projectId}`));
  if (access.kind === 'not-found') notFound();

  const sessions = await getQueryClient().fetchQuery(trpc.session.list.queryOptions({ projectId }));
  const recent = sessions.find((s) => s.status === 'active') ?? sessions[0];
  if (recent) redirect(`/p/${projectId}/s/${recent.id}`);
  return <NoSessions projectId={projectId} projectName={access.project.name} />;
}
