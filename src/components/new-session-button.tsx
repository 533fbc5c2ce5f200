'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { errorMessage } from '~/client/errors';
import { useLiveCache } from '~/client/project-live';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';

/** Starts a session at once (it can be renamed) and opens it. */
export function NewSessionButton({ projectId, className = 'button small' }: { projectId: string; className?: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const live = useLiveCache();
  const hydrated = useHydrated();
  const [error, setError] = useState<string | null>(null);
  const create = useMutation(
    trpc.session.create.mutationOptions({
      onSuccess: (session) => {
        live.applySession(session);
        router.push(`/p/${projectId}/s/${session.id}`);
      },
      onError: (err) => setError(errorMessage(err)),
    }),
  );

  function start() {
    setError(null);
    const count = queryClient.getQueryData(trpc.session.list.queryKey({ projectId }))?.length ?? 0;
    create.mutate({ projectId, title: `Session ${count + 1}` });
  }

  return (
    <>
      <button type="button" className={className} onClick={start} disabled={!hydrated || create.isPending}>
        New session
      </button>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
