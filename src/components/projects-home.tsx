'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '~/client/errors';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { projectCreateInput } from '~/shared/schemas';
import { SignOutButton } from './sign-out-button';
import { When } from './when';

export function ProjectsHome({ viewer }: { viewer: { username: string } }) {
  const trpc = useTRPC();
  const router = useRouter();
  const projects = useQuery(trpc.project.list.queryOptions());
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
        {list.length === 0 && projects.isSuccess ? (
          <p className="empty">No projects yet. Name one above to start talking.</p>
        ) : (
          <ul className="project-list">
            {list.map((p) => (
              <li key={p.id} className="project-item">
                <Link href={`/p/${p.id}`} className="stretched">
                  {p.name}
                </Link>
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
