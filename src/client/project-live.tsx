'use client';
/**
 * Mounts the live event sync of one project (see ./event-sync.ts) for as long as any page of the
 * project is open in this tab, and gives components the project's LiveCache (to apply their own
 * mutation answers) and its connection status (kept in the query cache, like all other state).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { isTRPCClientError } from '@trpc/client';
import type { AppRouter } from '~/server/trpc/root';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { PRESENCE } from '~/shared/limits';
import type { PresenceState } from '~/shared/types';
import { signInPath } from './queries';
import { EventSync, type ConnectionStatus } from './event-sync';
import { connectionKey, LiveCache } from './live-cache';
import { useTRPC, useTRPCClient } from './trpc';

const LiveCacheContext = createContext<LiveCache | null>(null);

export function ProjectLive({
  projectId,
  viewer,
  children,
}: {
  projectId: string;
  viewer: { id: string; username: string };
  children: ReactNode;
}) {
  const queryClient = useQueryClient();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const viewerId = viewer.id;
  const [live] = useState(() => new LiveCache(queryClient, trpc, projectId, viewerId, viewer.username));

  useEffect(() => {
    const sync = new EventSync({
      projectId,
      subscribe: (lastEventId, h) =>
        client.events.subscribe.subscribe(
          { projectId, lastEventId },
          {
            onData: ({ id, data }) => h.onData(id, data),
            onConnectionStateChange: (state) => {
              if (state.state === 'pending') h.onOpen();
              else if (state.state === 'connecting') h.onReconnecting();
            },
            onError: (err) => h.onError(err),
            onComplete: () => h.onComplete(),
          },
        ),
      onEvent: (event) => live.apply(event),
      onResync: () => live.refetchAll(),
      onStatus: (status) => live.setStatus(status),
      // Access ended: signed out (UNAUTHORIZED; a sign-out elsewhere ends the stream too) or no longer a
      // member (NOT_FOUND; left in another tab). Retrying cannot help: go through the sign-in gate,
      // which signs in, or (still signed in) sends the visitor on to the page, now "Not found".
      isUnauthorized: (err) =>
        isTRPCClientError<AppRouter>(err) && (err.data?.code === 'UNAUTHORIZED' || err.data?.code === 'NOT_FOUND'),
      onUnauthorized: () => window.location.assign(signInPath(window.location.pathname)),
    });
    sync.start();
    const stopHeartbeats = startPresenceHeartbeats(() => sync.isLeader, (state) =>
      client.project.heartbeat.mutate({ projectId, state }).then(
        (r) => live.apply({ type: 'presence', projectId, userId: viewerId, state, until: r.until }),
        // A missed heartbeat is retried by the next one; the member stays listed until expiry.
        () => undefined,
      ),
    );
    return () => {
      stopHeartbeats();
      sync.stop();
      live.setStatus('reconnecting');
    };
  }, [client, live, projectId, viewerId]);

  return <LiveCacheContext value={live}>{children}</LiveCacheContext>;
}

/**
 * While this tab leads (one per browser and project), says every PRESENCE.heartbeatMs that the user is
 * here: "active", or "idle" when the tab is hidden or has seen no input for PRESENCE.idleAfterMs.
 * Also at once when it becomes visible again. Returns the stop.
 */
function startPresenceHeartbeats(isLeader: () => boolean, beat: (state: PresenceState) => Promise<void>): () => void {
  let lastInput = Date.now();
  const onInput = () => {
    lastInput = Date.now();
  };
  const tick = () => {
    if (!isLeader()) return;
    const idle = document.visibilityState !== 'visible' || Date.now() - lastInput > PRESENCE.idleAfterMs;
    void beat(idle ? 'idle' : 'active');
  };
  // The first beat once leadership is settled (the lock is granted asynchronously).
  const first = setTimeout(tick, 500);
  const timer = setInterval(tick, PRESENCE.heartbeatMs);
  document.addEventListener('visibilitychange', tick);
  window.addEventListener('keydown', onInput);
  window.addEventListener('pointerdown', onInput);
  return () => {
    clearTimeout(first);
    clearInterval(timer);
    document.removeEventListener('visibilitychange', tick);
    window.removeEventListener('keydown', onInput);
    window.removeEventListener('pointerdown', onInput);
  };
}

export function useLiveCache(): LiveCache {
  const live = useContext(LiveCacheContext);
  if (!live) throw new Error('useLiveCache must be used inside <ProjectLive>');
  return live;
}

export function useConnectionStatus(projectId: string): ConnectionStatus {
  const queryClient = useQueryClient();
  const { data } = useQuery<ConnectionStatus>({
    queryKey: connectionKey(projectId),
    // Written by the event sync, never fetched: a refetch just keeps what is there.
    queryFn: () => queryClient.getQueryData<ConnectionStatus>(connectionKey(projectId)) ?? 'reconnecting',
    initialData: 'reconnecting',
    staleTime: Infinity,
  });
  return data;
}
