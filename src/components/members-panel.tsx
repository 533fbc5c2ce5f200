'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '~/client/errors';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { usernameSchema } from '~/shared/schemas';
import type { Viewer } from '~/shared/types';
import { Avatar } from './avatar';
import { PresenceDot, usePresence } from './presence';

export function MembersPanel({ projectId, viewer }: { projectId: string; viewer: Viewer }) {
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const hydrated = useHydrated();
  const router = useRouter();
  const queryClient = useQueryClient();
  const leave = useMutation(
    trpc.project.leave.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.project.list.queryKey() });
        router.push('/');
      },
      onError: (err) => setFeedback({ ok: false, text: errorMessage(err) }),
    }),
  );
  const [feedback, setFeedback] = useState<{ ok: boolean; text: string } | null>(null);
  const invite = useMutation(
    trpc.project.addMember.mutationOptions({
      // The same answer whether or not the name exists (no probing for usernames); they join on accepting.
      onSuccess: ({ status }, { username }) => {
        setFeedback({ ok: true, text: status === 'invited' ? 'Invitation sent' : `${username} is already a member` });
      },
      onError: (err) => setFeedback({ ok: false, text: errorMessage(err) }),
    }),
  );

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const parsed = usernameSchema.safeParse(new FormData(form).get('username'));
    if (!parsed.success) {
      setFeedback({ ok: false, text: parsed.error.issues[0]?.message ?? 'Enter a username' });
      return;
    }
    setFeedback(null);
    invite.mutate({ projectId, username: parsed.data }, { onSuccess: () => form.reset() });
  }

  const members = project.data?.members ?? [];
  const presence = usePresence(projectId);
  return (
    <section className="panel members" aria-labelledby="members-heading">
      <div className="panel-head">
        <h2 id="members-heading">Members</h2>
      </div>
      <ul className="member-list">
        {members.map((m) => (
          <li key={m.id} className="member">
            <Avatar id={m.id} name={m.username} />
            <span>{m.username}</span>
            {m.id === project.data?.ownerId && <span className="tag">owner</span>}
            {m.id === viewer.id && <span className="tag">you</span>}
            <PresenceDot state={presence(m.id)} />
          </li>
        ))}
      </ul>
      <form onSubmit={onSubmit} className="invite-form" noValidate>
        <input
          name="username"
          readOnly={!hydrated}
          aria-label="Invite by username"
          placeholder="Username"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
        />
        <button type="submit" className="button small" disabled={!hydrated || invite.isPending}>
          Add member
        </button>
      </form>
      <p className={`small ${feedback?.ok === false ? 'form-error' : 'muted'}`} aria-live="polite">
        {feedback?.text}
      </p>
      <button
        type="button"
        className="button small"
        disabled={!hydrated || leave.isPending || leave.isSuccess}
        onClick={() => {
          setFeedback(null);
          leave.mutate({ projectId });
        }}
      >
        Leave project
      </button>
    </section>
  );
}
