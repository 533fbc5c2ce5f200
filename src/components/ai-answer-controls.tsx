'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { errorMessage } from '~/client/errors';
import { useLiveCache } from '~/client/project-live';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import type { MessageDTO } from '~/shared/types';

/**
 * The controls under an AI PM answer: Stop while it is being written, the reason and Retry when it
 * failed, Verify (or who verified it) once it is delivered. Every tab sees the result through the
 * answer's `message.updated` events; this tab also applies the mutation's answer at once.
 */
export function AiAnswerControls({ message }: { message: MessageDTO }) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const hydrated = useHydrated();
  const [error, setError] = useState<string | null>(null);
  const ref = { projectId: message.projectId, sessionId: message.sessionId, id: message.id };
  const options = {
    onSuccess: (updated: MessageDTO) => {
      setError(null);
      live.apply({ type: 'message.updated', message: updated });
    },
    onError: (err: unknown) => setError(errorMessage(err)),
  };
  const stop = useMutation(trpc.message.stopGeneration.mutationOptions(options));
  const retry = useMutation(trpc.message.retry.mutationOptions(options));
  const verify = useMutation(trpc.message.verify.mutationOptions(options));
  const verifiedBy = message.metadata.verifiedBy as { username?: string } | undefined;
  const reason = typeof message.metadata.error === 'string' ? message.metadata.error : null;

  return (
    <div className={`ai-controls${message.status === 'failed' ? ' msg-retry' : ''}`}>
      {message.status === 'streaming' && (
        <ActionButton className="button subtle small" run={() => stop.mutate(ref)} disabled={!hydrated || stop.isPending}>
          Stop
        </ActionButton>
      )}
      {message.status === 'failed' && (
        <>
          <span className="small">{reason ?? 'The AI PM could not answer.'}</span>
          <ActionButton className="button small" run={() => retry.mutate(ref)} disabled={!hydrated || retry.isPending}>
            Retry
          </ActionButton>
        </>
      )}
      {message.status === 'delivered' && message.metadata.stopped === true && <span className="muted small">Stopped</span>}
      {message.status === 'delivered' &&
        (verifiedBy?.username ? (
          <span className="tag verified">Verified by {verifiedBy.username}</span>
        ) : (
          <ActionButton className="button subtle small" run={() => verify.mutate(ref)} disabled={!hydrated || verify.isPending}>
            Mark verified
          </ActionButton>
        ))}
      {error && (
        <span className="form-error small" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

function ActionButton({ className, run, disabled, children }: { className: string; run: () => void; disabled: boolean; children: ReactNode }) {
  return (
    <button type="button" className={className} onClick={run} disabled={disabled}>
      {children}
    </button>
  );
}
