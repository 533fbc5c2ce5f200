'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { MentionBadge, UnreadBadge } from './unread-badge';
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { errorMessage } from '~/client/errors';
import { HOME_PROJECTS_INPUT } from '~/client/queries';
import { useTRPC, useTRPCClient } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { projectCreateInput } from '~/shared/schemas';
import type { InvitationDTO, Viewer } from '~/shared/types';
import { SignOutButton } from './sign-out-button';
import { When } from './when';

export function ProjectsHome({ viewer }: { viewer: Pick<Viewer, 'username'> }) {
  const trpc = useTRPC();
  const router = useRouter();
  const projects = useQuery(trpc.project.list.queryOptions(HOME_PROJECTS_INPUT));
  const unread = useQuery(trpc.project.unreadTotals.queryOptions(undefined, { staleTime: 0, refetchOnWindowFocus: true }));
  useLiveUnreadTotals();
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();
  const create = useMutation(
    trpc.project.create.mutationOptions({
      onSuccess: (project) => router.push(`/p/${project.id}`),
      onError: (err) => setError(errorMessage(err)),
    }),
  );

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const parsed = projectCreateInput.safeParse({ name: new FormData(e.currentTarget).get('name') });
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'Give the project a name');
      return;
    }
    setError(null);
    create.mutate(parsed.data);
  }

  const list = projects.data ?? [];
  return (
    <div className="home">
      <header className="topbar">
        <Link href="/" className="brand small">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          Parley
        </Link>
        <div className="row">
          <span className="muted">Signed in as {viewer.username}</span>
          <SignOutButton />
        </div>
      </header>
      <main className="home-main">
        <h1>Your projects</h1>
        <form onSubmit={onSubmit} className="inline-form" noValidate>
          <input name="name" readOnly={!hydrated} aria-label="Project name" placeholder="New project name" maxLength={100} autoComplete="off" />
          <button type="submit" className="button primary" disabled={!hydrated || create.isPending || create.isSuccess}>
            Create project
          </button>
        </form>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {projects.isError && (
          <p className="form-error" role="alert">
            {errorMessage(projects.error)}
          </p>
        )}
        <Invitations />
        {list.length === 0 && projects.isSuccess ? (
          <p className="empty">No projects yet. Name one above to start talking.</p>
        ) : (
          <ul className="project-list">
            {list.map((p) => (
              <li key={p.id} className="project-item">
                <Link href={`/p/${p.id}`} className="stretched">
                  {p.name}
                </Link>
                <UnreadBadge count={unread.data?.[p.id]?.unread ?? 0} />
                <MentionBadge count={unread.data?.[p.id]?.mentions ?? 0} />
                <span className="muted small">
                  Last activity <When iso={p.lastActivityAt} />
                </span>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}

/**
 * Keeps the project list's unread totals live: one stream (events.unread) for all the user's projects,
 * never one per project. Its first item holds every total; later ones the projects that changed.
 */
function useLiveUnreadTotals() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  useEffect(() => {
    let first = true;
    const sub = client.events.unread.subscribe(undefined, {
      onData: (totals) => {
        queryClient.setQueryData(trpc.project.unreadTotals.queryKey(), (current) => ({ ...current, ...totals }));
        // Activity moved: the list's order and "Last activity" follow (not for the first snapshot).
        if (!first) void queryClient.invalidateQueries({ queryKey: trpc.project.list.queryKey() });
        first = false;
      },
      // The link reconnects by itself; the reconnected stream starts with a full snapshot again.
      onError: () => undefined,
    });
    return () => sub.unsubscribe();
  }, [client, queryClient, trpc]);
}

/**
 * Invitations waiting for an answer: nobody becomes a member of a project without accepting. There is
 * no live event for them (they belong to no project yet), so the list is re-read every half minute
 * and whenever the window regains focus.
 */
function Invitations() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const invitations = useQuery(trpc.project.invitations.queryOptions(undefined, { refetchInterval: 30_000 }));
  const [error, setError] = useState<string | null>(null);
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.project.invitations.queryKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.project.list.queryKey() }),
    ]);
  const accept = useMutation(
    trpc.project.acceptInvite.mutationOptions({
      onSuccess: async (_result, { projectId }) => {
        await refresh();
        router.push(`/p/${projectId}`);
      },
      onError: (err) => setError(errorMessage(err)),
    }),
  );
  const decline = useMutation(
    trpc.project.declineInvite.mutationOptions({
      onSuccess: () => refresh(),
      onError: (err) => setError(errorMessage(err)),
    }),
  );
  const items: InvitationDTO[] = invitations.data ?? [];
  if (items.length === 0 && !error && !invitations.isError) return null;
  const busy = accept.isPending || decline.isPending;
  const answers = [
    { label: 'Accept', className: 'button primary small', mutation: accept },
    { label: 'Decline', className: 'button small', mutation: decline },
  ];
  return (
    <section className="invitations" aria-labelledby="invitations-heading">
      <h2 id="invitations-heading">Invitations</h2>
      {(error ?? invitations.isError) && (
        <p className="form-error" role="alert">
          {error ?? errorMessage(invitations.error)}
        </p>
      )}
      <ul className="project-list">
        {items.map((inv) => (
          <li key={inv.projectId} className="project-item">
            <span>
              <strong>{inv.projectName}</strong> <span className="muted small">from {inv.inviterName}</span>
            </span>
            <span className="row">
              {answers.map(({ label, className, mutation }) => (
                <button
                  key={label}
                  type="button"
                  className={className}
                  disabled={busy}
                  onClick={() => {
                    setError(null);
                    mutation.mutate({ projectId: inv.projectId });
                  }}
                >
                  {label}
                </button>
              ))}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
