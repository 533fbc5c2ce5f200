'use client';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '~/client/errors';
import { useLiveCache } from '~/client/project-live';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { AI_PM_MODES, type AiPmMode } from '~/shared/ai';
import type { SessionDTO } from '~/shared/types';

const LABELS: Record<AiPmMode, string> = {
  always: 'Answers every message',
  mention: 'Answers when @pm is mentioned',
  off: 'Off in this session',
};

/**
 * The session's AI PM participation (session.update {aiPm}), or, when the server has no model
 * configured, a plain notice saying so and naming the one setting to add.
 */
export function AiPmSetting({ session, aiOn }: { session: SessionDTO | undefined; aiOn: boolean }) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const hydrated = useHydrated();
  const [error, setError] = useState<string | null>(null);
  const update = useMutation(
    trpc.session.update.mutationOptions({
      onSuccess: (updated) => {
        setError(null);
        live.applySession(updated);
      },
      onError: (err) => setError(errorMessage(err)),
    }),
  );
  if (!aiOn) {
    return (
      <p className="ai-off small" role="note">
        The AI PM is off: this server has no AI model configured. Set <code>AI_BASE_URL</code> (any
        OpenAI-compatible server, e.g. Ollama) and restart to turn it on.
      </p>
    );
  }
  const stored = session?.metadata.aiPm;
  const mode: AiPmMode = (AI_PM_MODES as readonly unknown[]).includes(stored) ? (stored as AiPmMode) : 'always';
  return (
    <label className="ai-mode small">
      <span>AI PM</span>
      <select
        aria-label="AI PM participation"
        value={mode}
        disabled={!hydrated || !session || update.isPending}
        onChange={(e) =>
          session && update.mutate({ projectId: session.projectId, sessionId: session.id, aiPm: e.target.value as AiPmMode })
        }
      >
        {AI_PM_MODES.map((m) => (
          <option key={m} value={m}>
            {LABELS[m]}
          </option>
        ))}
      </select>
      {error && (
        <span className="form-error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}
