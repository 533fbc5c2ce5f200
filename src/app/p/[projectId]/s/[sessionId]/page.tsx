import type { Metadata } from 'next';
import { notFound, redirect } from 'next/navigation';
import { messageListInput, messageListPaging, signInPath } from '~/client/queries';
import { ChatView } from '~/components/chat-view';
import { aiEnabled } from '~/server/ai/settings';
import { getProjectAccess, getQueryClient, HydrateClient, isNotFoundError, trpc } from '~/server/trpc/rsc';

interface Params {
  projectId: string;
  sessionId: string;
}

async function loadSession({ projectId, sessionId }: Params) {
  try {
    return await getQueryClient().fetchQuery(trpc.session.get.queryOptions({ projectId, sessionId }));
  } catch (err) {
    if (isNotFoundError(err)) return null;
    throw err;
  }
}

export async function generateMetadata({ params }: { params: Promise<Params> }): Promise<Metadata> {
  const p = await params;
  const access = await getProjectAccess(p.projectId);
  if (access.kind !== 'member') return {};
  const session = await loadSession(p);
  return { title: session ? `${session.title} · ${access.project.name}` : access.project.name };
}

/**
 * One session. The first page of history is fetched here, on the server, and handed to the
 * browser's cache, so a reload shows the conversation at once; the browser keeps it live.
 */
export default async function SessionPage({
  params,
  searchParams,
}: {
  params: Promise<Params>;
  searchParams: Promise<{ at?: string | string[] }>;
}) {
  const p = await params;
  // `?at=<seq>`: opened from a search result (see FocusedLog); anything else is ignored.
  const at = (await searchParams).at;
  const focusSeq = typeof at === 'string' && /^[1-9]\d{0,9}$/.test(at) ? Number(at) : null;
  const access = await getProjectAccess(p.projectId);
  if (access.kind === 'signed-out') redirect(signInPath(`/p/${p.projectId}/s/${p.sessionId}`));
  if (access.kind === 'not-found') notFound();
  if (!(await loadSession(p))) notFound();

  await getQueryClient().prefetchInfiniteQuery(
    trpc.message.list.infiniteQueryOptions(messageListInput(p.projectId, p.sessionId), messageListPaging),
  );
  return (
    <HydrateClient>
      <ChatView
        projectId={p.projectId}
        sessionId={p.sessionId}
        viewer={access.viewer}
        aiOn={aiEnabled()}
        focusSeq={focusSeq}
      />
    </HydrateClient>
  );
}
