import { redirect } from 'next/navigation';
import { ProjectsHome } from '~/components/projects-home';
import { SignInForm } from '~/components/sign-in-form';
import { HOME_PROJECTS_INPUT } from '~/client/queries';
import { safeNextPath } from '~/shared/safe-path';
import { getQueryClient, getViewer, HydrateClient, trpc } from '~/server/trpc/rsc';

export default async function HomePage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const next = safeNextPath((await searchParams).next);
  const viewer = await getViewer();
  if (!viewer) return <SignInForm next={next} />;
  if (next) redirect(next);

  await Promise.all([
    getQueryClient().prefetchQuery(trpc.project.list.queryOptions(HOME_PROJECTS_INPUT)),
    getQueryClient().prefetchQuery(trpc.project.invitations.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <ProjectsHome viewer={viewer} />
    </HydrateClient>
  );
}
