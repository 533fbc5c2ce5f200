'use client';
/**
 * Typing notifications, both ways, with Zulip's intervals (TYPING in src/shared/limits.ts).
 * Sending: `keystroke()` on input sends "start" at most once per startedWaitMs and schedules "stop"
 * after stoppedWaitMs of quiet; `stop()` (on send, blur, leaving the session) says it at once.
 * Receiving: the typists the LiveCache heard from within startedExpiryMs, rechecked every second
 * while anyone is listed, so a typist whose tab died drops out by itself.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { TYPING } from '~/shared/limits';
import { typists, type TypingState } from './cache-updates';
import { typingKey } from './live-cache';
import { useTRPC } from './trpc';

export function useTypingNotifier(projectId: string, sessionId: string) {
  const trpc = useTRPC();
  // Best effort: a lost typing signal is harmless and must not bother the writer.
  const { mutate } = useMutation(trpc.session.typing.mutationOptions({ onError: () => undefined }));
  const lastStart = useRef(0);
  const stopTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const stop = useCallback(() => {
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = null;
    if (lastStart.current === 0) return;
    lastStart.current = 0;
    mutate({ projectId, sessionId, typing: false });
  }, [mutate, projectId, sessionId]);

  const keystroke = useCallback(() => {
    const now = Date.now();
    if (now - lastStart.current >= TYPING.startedWaitMs) {
      lastStart.current = now;
      mutate({ projectId, sessionId, typing: true });
    }
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = setTimeout(stop, TYPING.stoppedWaitMs);
  }, [mutate, projectId, sessionId, stop]);

  useEffect(() => stop, [stop]);
  return { keystroke, stop };
}

export function useTypists(projectId: string, sessionId: string, viewerId: string): string[] {
  const qc = useQueryClient();
  const key = typingKey(projectId);
  const { data } = useQuery<TypingState>({
    queryKey: key,
    // Written by the event sync only, never fetched.
    queryFn: () => qc.getQueryData<TypingState>(key) ?? {},
    initialData: {},
    staleTime: Infinity,
  });
  const [now, setNow] = useState(() => Date.now());
  const names = typists(data, sessionId, viewerId, now, TYPING.startedExpiryMs);
  const anyone = Object.keys(data[sessionId] ?? {}).length > 0;
  useEffect(() => {
    setNow(Date.now());
    if (!anyone) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [anyone, data]);
  return names;
}
