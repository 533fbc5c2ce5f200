'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useRef } from 'react';
import type { ReadMarkers } from './cache-updates';
import { useLiveCache } from './project-live';
import { LIVE_QUERY_OPTIONS } from './queries';
import { useTRPC } from './trpc';

/** This user's read markers in the project (kept current by read.updated and own message.created). */
export function useReadMarkers(projectId: string): ReadMarkers | undefined {
  const trpc = useTRPC();
  return useQuery(trpc.session.readMarkers.queryOptions({ projectId }, LIVE_QUERY_OPTIONS)).data;
}

/**
 * `seeLatest(seq)`: the newest messages (up to `seq`) are on screen. Sends `session.markRead` only
 * when the tab is visible and focused (a background tab has not been read) and the marker is behind.
 * A tab that gains focus while showing the latest reports again.
 */
export function useMarkRead(projectId: string, sessionId: string, newestSeq: number) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const markers = useReadMarkers(projectId);
  const marker = markers?.[sessionId] ?? 0;
  const atLatest = useRef(false);
  const { mutate } = useMutation(
    trpc.session.markRead.mutationOptions({
      onSuccess: (r) => live.advanceMarker(r.sessionId, r.lastRead),
      // Try again with the next chance (focus, scroll, message) rather than never.
      onError: () => {
        sent.current = 0;
      },
    }),
  );
  const sent = useRef(0);
  useEffect(() => {
    sent.current = 0;
  }, [sessionId]);

  const maybeMark = useCallback(() => {
    if (!atLatest.current || markers === undefined) return;
    if (document.visibilityState !== 'visible' || !document.hasFocus()) return;
    if (newestSeq <= marker || newestSeq <= sent.current) return;
    sent.current = newestSeq;
    mutate({ projectId, sessionId, seq: newestSeq });
  }, [markers, marker, newestSeq, mutate, projectId, sessionId]);

  useEffect(() => {
    maybeMark();
    window.addEventListener('focus', maybeMark);
    document.addEventListener('visibilitychange', maybeMark);
    return () => {
      window.removeEventListener('focus', maybeMark);
      document.removeEventListener('visibilitychange', maybeMark);
    };
  }, [maybeMark]);

  return useCallback(
    (isAtLatest: boolean) => {
      atLatest.current = isAtLatest;
      maybeMark();
    },
    [maybeMark],
  );
}
