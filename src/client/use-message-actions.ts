'use client';
/**
 * Edit, delete and react, optimistically: the change shows at once in this tab's pages (replaceMessage
 * wins over the copy it was made from), the server's answer then replaces it by the same rule as the
 * `message.updated`/`message.deleted` event, and a failure puts the previous copy back - unless
 * something newer (an event from another tab) has replaced the optimistic copy meanwhile, which then
 * stays. Other tabs and users learn of the change from the event the same Lua script appended.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useCallback, useState } from 'react';
import type { MessageDTO } from '~/shared/types';
import { deletedMessage, editedMessage, findMessage, replaceMessage, toggleReaction, type MessagePages } from './cache-updates';
import { errorMessage } from './errors';
import { useLiveCache } from './project-live';
import { useTRPC } from './trpc';

export function useMessageActions(message: MessageDTO, viewerId: string) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const live = useLiveCache();
  const [error, setError] = useState<string | null>(null);
  const filter = {
    queryKey: trpc.message.list.infiniteQueryKey({ projectId: message.projectId, sessionId: message.sessionId }),
  };

  /** Shows `next` in place of the cached copy; returns how to undo it. */
  function optimistic(next: MessageDTO): () => void {
    const previous = qc.getQueriesData<MessagePages>(filter).map(([, d]) => findMessage(d, message.id)).find(Boolean);
    qc.setQueriesData<MessagePages>(filter, (d) => d && replaceMessage(d, next));
    return () => {
      if (!previous) return;
      qc.setQueriesData<MessagePages>(filter, (d) => (d && findMessage(d, next.id) === next ? replaceMessage(d, previous) : d));
    };
  }

  const options = {
    onSuccess: (stored: MessageDTO) => {
      setError(null);
      live.apply({ type: stored.deleted ? 'message.deleted' : 'message.updated', message: stored });
    },
    onError: (err: unknown, _input: unknown, undo: (() => void) | undefined) => {
      undo?.();
      setError(errorMessage(err));
    },
  };
  const ref = { projectId: message.projectId, sessionId: message.sessionId, id: message.id };

  const editM = useMutation(
    trpc.message.edit.mutationOptions({ ...options, onMutate: (input) => optimistic(editedMessage(message, input.content)) }),
  );
  const deleteM = useMutation(trpc.message.delete.mutationOptions({ ...options, onMutate: () => optimistic(deletedMessage(message)) }));
  const reactM = useMutation(
    trpc.message.react.mutationOptions({ ...options, onMutate: (input) => optimistic(toggleReaction(message, input.emoji, viewerId)) }),
  );

  const { mutate: edit } = editM;
  const { mutate: del } = deleteM;
  const { mutate: react } = reactM;
  return {
    error,
    clearError: useCallback(() => setError(null), []),
    edit: (content: string) => edit({ ...ref, content }),
    remove: () => del(ref),
    react: (emoji: string) => react({ ...ref, emoji }),
  };
}
