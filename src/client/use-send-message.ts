'use client';
/**
 * Optimistic sending. A message gets its id here (crypto.randomUUID) and shows at once from this
 * tab's outbox (a React Query cache entry beside the message pages) as "sending". The server's copy
 * (same id, now with a seq) goes into the pages by the same rule as the `message.created` event, and
 * the timeline shows one copy per id, so the answer and the event never make two. A failure leaves
 * the entry as "failed"; Retry sends the SAME id again, and the server stores it at most once.
 * Over the send limit (TOO_MANY_REQUESTS) the entry stays "sending" with a "slow down" note and the
 * SAME id is sent again by itself once the server's Retry-After has passed.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import { outboxAdd, outboxRemove, outboxUpdate, type OutboxEntry } from './cache-updates';
import { errorMessage, retryAfterSeconds } from './errors';
import { outboxKey } from './live-cache';
import { newMessageId } from './ids';
import { useLiveCache } from './project-live';
import { useTRPC } from './trpc';

export function useOutbox(projectId: string, sessionId: string): OutboxEntry[] {
  const queryClient = useQueryClient();
  const key = outboxKey(projectId, sessionId);
  const { data } = useQuery<OutboxEntry[]>({
    queryKey: key,
    // Written only by this tab's sends, never fetched: a refetch keeps what is there.
    queryFn: () => queryClient.getQueryData<OutboxEntry[]>(key) ?? [],
    initialData: [],
    staleTime: Infinity,
    // Unsent messages stay while the tab lives, even if the user looks at another session meanwhile.
    gcTime: Infinity,
  });
  return data;
}

export function useSendMessage(projectId: string, sessionId: string) {
  const queryClient = useQueryClient();
  const trpc = useTRPC();
  const live = useLiveCache();

  const updateOutbox = useCallback(
    (update: (list: OutboxEntry[]) => OutboxEntry[]) =>
      queryClient.setQueryData<OutboxEntry[]>(outboxKey(projectId, sessionId), (list) => update(list ?? [])),
    [queryClient, projectId, sessionId],
  );

  const mutation = useMutation(
    trpc.message.send.mutationOptions({
      // One at a time per session: the server assigns seqs in arrival order, so sends must arrive in
      // the order they were written.
      scope: { id: `send:${projectId}:${sessionId}` },
      onMutate: (input) => {
        updateOutbox((list) => outboxUpdate(list, input.id, { state: 'sending', error: null }));
      },
      onSuccess: (message) => {
        live.applyStoredMessage(message);
        updateOutbox((list) => outboxRemove(list, message.id));
      },
      onError: (error, input) => {
        const wait = retryAfterSeconds(error);
        if (wait !== null) {
          updateOutbox((list) =>
            outboxUpdate(list, input.id, { state: 'sending', error: `Slow down: sending again in ${wait} s` }),
          );
          setTimeout(() => mutateRef.current?.(input), wait * 1000);
          return;
        }
        updateOutbox((list) => outboxUpdate(list, input.id, { state: 'failed', error: errorMessage(error) }));
      },
    }),
  );
  const { mutate } = mutation;
  // The delayed resend uses the latest mutate (it outlives the render that scheduled it).
  const mutateRef = useRef<typeof mutate | null>(null);
  useEffect(() => {
    mutateRef.current = mutate;
  }, [mutate]);

  const send = useCallback(
    (content: string) => {
      const entry: OutboxEntry = {
        id: newMessageId(),
        sessionId,
        content,
        createdAt: new Date().toISOString(),
        state: 'sending',
        error: null,
      };
      updateOutbox((list) => outboxAdd(list, entry));
      mutate({ projectId, sessionId, id: entry.id, content });
    },
    [mutate, updateOutbox, projectId, sessionId],
  );

  const retry = useCallback(
    (entry: OutboxEntry) => mutate({ projectId, sessionId, id: entry.id, content: entry.content }),
    [mutate, projectId, sessionId],
  );

  return { send, retry };
}
