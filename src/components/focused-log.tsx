'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useRef } from 'react';
import { useTRPC } from '~/client/trpc';
import { LIMITS } from '~/shared/limits';
import type { Viewer } from '~/shared/types';
import { StoredMessage } from './message-item';

/** Messages shown on each side of the one a search result opened. */
const AROUND = Math.floor(LIMITS.pageSizeDefault / 2);

/**
 * A session opened from a search result (`?at=<seq>`): the page of messages around that seq, read
 * with `message.list` (cursor = the seq just above the page), the found message highlighted and
 * scrolled into view. A snapshot, not the live log: "Back to the latest messages" returns to that.
 */
export function FocusedLog({
  projectId,
  sessionId,
  seq,
  viewer,
}: {
  projectId: string;
  sessionId: string;
  seq: number;
  viewer: Pick<Viewer, 'id'>;
}) {
  const trpc = useTRPC();
  const page = useQuery(
    trpc.message.list.queryOptions({ projectId, sessionId, limit: AROUND * 2, cursor: seq + AROUND + 1 }),
  );
  const found = useRef<HTMLElement>(null);
  const items = page.data ? [...page.data.items].sort((a, b) => a.seq - b.seq) : [];
  const hasFound = items.some((m) => m.seq === seq);

  useEffect(() => {
    if (hasFound) found.current?.scrollIntoView({ block: 'center' });
  }, [hasFound]);

  return (
    <div className="log-wrap">
      <p className="focus-banner small">
        Showing the messages around message {seq}.{' '}
        <Link href={`/p/${projectId}/s/${sessionId}`}>Back to the latest messages</Link>
      </p>
      <div className="log" role="log" aria-label="Messages" aria-busy={page.isPending} tabIndex={0}>
        <div className="log-content">
          {page.isError && (
            <p role="alert" className="small error-text">
              {page.error.message}
            </p>
          )}
          {page.isSuccess && !hasFound && <p className="muted small">Message {seq} is not in this session.</p>}
          {items.map((m) =>
            m.seq === seq ? (
              <section key={m.id} ref={found} aria-label="Found message" className="msg-found">
                <StoredMessage message={m} viewerId={viewer.id} />
              </section>
            ) : (
              <StoredMessage key={m.id} message={m} viewerId={viewer.id} />
            ),
          )}
        </div>
      </div>
    </div>
  );
}
