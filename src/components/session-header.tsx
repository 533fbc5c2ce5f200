'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { errorMessage } from '~/client/errors';
import { useLiveCache } from '~/client/project-live';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { LIMITS } from '~/shared/limits';
import type { SessionDTO } from '~/shared/types';
import { AiPmSetting } from './ai-pm-setting';
import { plural } from './format';
import { InlineEditForm } from './inline-edit-form';

export function SessionHeader({ projectId, sessionId, aiOn }: { projectId: string; sessionId: string; aiOn: boolean }) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const { data: session } = useQuery(trpc.session.get.queryOptions({ projectId, sessionId }, LIVE_QUERY_OPTIONS));
  const hydrated = useHydrated();
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const renameButton = useRef<HTMLButtonElement>(null);
  const rename = useMutation(
    trpc.session.update.mutationOptions({
      onSuccess: (updated) => {
        live.applySession(updated);
        close();
      },
      onError: (err) => setError(errorMessage(err)),
    }),
  );

  function close() {
    setEditing(false);
    setError(null);
    // Give focus back to where the keyboard user started.
    requestAnimationFrame(() => renameButton.current?.focus());
  }

  function saveTitle(title: string) {
    if (!title) return setError('Title must not be empty');
    if (title === session?.title) return close();
    rename.mutate({ projectId, sessionId, title });
  }

  return (
    <header className="chat-head">
      {editing ? (
        <InlineEditForm
          name="title"
          label="Session title"
          defaultValue={session?.title}
          maxLength={LIMITS.sessionTitleMax}
          pending={rename.isPending}
          onSave={saveTitle}
          onCancel={close}
        >
          {error && (
            <p className="form-error small" role="alert">
              {error}
            </p>
          )}
        </InlineEditForm>
      ) : (
        <>
          <div className="chat-title">
            <h1>{session?.title}</h1>
            {session && <span className="muted small">{plural(session.messageCount, 'message')}</span>}
            {session?.status === 'archived' && <span className="tag">Archived</span>}
          </div>
          <AiPmSetting session={session} aiOn={aiOn} />
          <button
            ref={renameButton}
            type="button"
            className="button subtle small"
            onClick={() => setEditing(true)}
            disabled={!hydrated}
          >
            Rename
          </button>
          {session && <SessionDetails projectId={projectId} session={session} disabled={!hydrated} />}
        </>
      )}
    </header>
  );
}

/** Description (edit in place) and archive / unarchive: both through session.update and its event. */
function SessionDetails({ projectId, session, disabled }: { projectId: string; session: SessionDTO; disabled: boolean }) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const update = useMutation(
    trpc.session.update.mutationOptions({
      onSuccess: (updated) => {
        live.applySession(updated);
        setEditing(false);
        setError(null);
      },
      onError: (err) => setError(errorMessage(err)),
    }),
  );
  const archived = session.status === 'archived';

  function saveDescription(description: string) {
    if (description === (session.description ?? '')) return setEditing(false);
    update.mutate({ projectId, sessionId: session.id, description });
  }

  return (
    <div className="session-details">
      {editing ? (
        <InlineEditForm
          name="description"
          label="Session description"
          defaultValue={session.description ?? ''}
          maxLength={LIMITS.sessionDescriptionMax}
          pending={update.isPending}
          onSave={saveDescription}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <>
          {session.description && <p className="muted small session-description">{session.description}</p>}
          <button type="button" className="button subtle small" onClick={() => setEditing(true)} disabled={disabled}>
            {session.description ? 'Edit description' : 'Add description'}
          </button>
          <button
            type="button"
            className="button subtle small"
            disabled={disabled || update.isPending}
            onClick={() => update.mutate({ projectId, sessionId: session.id, status: archived ? 'active' : 'archived' })}
          >
            {archived ? 'Unarchive' : 'Archive'}
          </button>
        </>
      )}
      {error && (
        <p className="form-error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
