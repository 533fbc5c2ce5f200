'use client';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo } from 'react';
import { flattenPages, timeline } from '~/client/cache-updates';
import { useLiveCache } from '~/client/project-live';
import { messageListInput, messageListPaging } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { useOutbox, useSendMessage } from '~/client/use-send-message';
import { Composer } from './composer';
import { FocusedLog } from './focused-log';
import { MessageLog } from './message-log';
import { SessionHeader } from './session-header';

export function ChatView({
  projectId,
  sessionId,
  viewer,
  aiOn,
  focusSeq,
}: {
  projectId: string;
  sessionId: string;
  viewer: { id: string; username: string };
  /** A model server is configured (the AI PM can answer). */
  aiOn: boolean;
  /** Opened from a search result: show the page around this seq instead of the live log. */
  focusSeq?: number | null;
}) {
  const trpc = useTRPC();
  const live = useLiveCache();
  const messages = useInfiniteQuery(
    trpc.message.list.infiniteQueryOptions(messageListInput(projectId, sessionId), messageListPaging),
  );
  const outbox = useOutbox(projectId, sessionId);
  const { send, retry } = useSendMessage(projectId, sessionId);

  // Events that arrived before this session's messages were in the cache (e.g. while the server
  // rendered this page) are applied now.
  useEffect(() => live.replay(), [live, sessionId]);

  const items = useMemo(() => timeline(flattenPages(messages.data), outbox), [messages.data, outbox]);
  const { fetchNextPage } = messages;
  // Never restart a page that is already on its way (scroll events fire many times).
  const loadOlder = useCallback(() => void fetchNextPage({ cancelRefetch: false }), [fetchNextPage]);

  return (
    <main className="chat">
      <SessionHeader projectId={projectId} sessionId={sessionId} aiOn={aiOn} />
      {focusSeq ? (
        <FocusedLog projectId={projectId} sessionId={sessionId} seq={focusSeq} viewer={viewer} />
      ) : (
        <MessageLog
          items={items}
          viewer={viewer}
          hasOlder={messages.hasNextPage}
          loadingOlder={messages.isFetchingNextPage}
          onLoadOlder={loadOlder}
          onRetry={retry}
        />
      )}
      <Composer onSend={send} />
    </main>
  );
}
