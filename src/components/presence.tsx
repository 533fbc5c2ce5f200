'use client';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { presenceOf } from '~/client/cache-updates';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import type { PresenceState } from '~/shared/types';

/** `(userId) => 'active' | 'idle' | null`, kept current by presence signals and rechecked every few seconds for expiry. */
export function usePresence(projectId: string): (userId: string) => PresenceState | null {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.project.presence.queryOptions({ projectId }, LIVE_QUERY_OPTIONS));
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(timer);
  }, []);
  return (userId) => presenceOf(data, userId, now);
}

export function PresenceDot({ state }: { state: PresenceState | null }) {
  const label = state === 'active' ? 'online' : state === 'idle' ? 'idle' : 'offline';
  return (
    <span className={`presence presence-${label}`} title={label}>
      {label}
    </span>
  );
}
