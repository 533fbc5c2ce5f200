'use client';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { flattenPages, timeline } from '~/client/cache-updates';
import { useLiveCache } from '~/client/project-live';
import { messageListInput, messageListPaging } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { useMarkRead, useReadMarkers } from '~/client/use-read-state';
import { useOutbox, useSendMessage } from '~/client/use-send-message';
import type { MessageDTO, Viewer } from '~/shared/types';
import { useTypingNotifier } from '~/client/use-typing';
import { Composer } from './composer';
import { FocusedLog } from './focused-log';
import { MessageLog } from './message-log';
import { SessionHeader } from './session-header';
import { TypingIndicator } from './typing-indicator';

export function ChatView({
  projectId,
  sessionId,
  viewer,
  aiOn,
  focusSeq,
}: {
  projectId: string;
  sessionId: string;
  viewer: Viewer;
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
  const typing = useTypingNotifier(projectId, sessionId);

  // Events that arrived before this session's messages were in the cache (e.g. while the server
  // rendered this page) are applied now.
  useEffect(() => live.replay(), [live, sessionId]);

  const stored = useMemo(() => flattenPages(messages.data), [messages.data]);
  const items = useMemo(() => timeline(stored, outbox), [stored, outbox]);
  const newestSeq = stored.at(-1)?.seq ?? 0;
  const onAtLatestChange = useMarkRead(projectId, sessionId, newestSeq);
  const firstUnreadSeq = useFirstUnreadAtOpen(projectId, sessionId, stored, viewer.id);
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
          refreshing={messages.isFetching && !messages.isFetchingNextPage}
          onLoadOlder={loadOlder}
          onRetry={retry}
          onAtLatestChange={onAtLatestChange}
          firstUnreadSeq={firstUnreadSeq}
        />
      )}
      <TypingIndicator projectId={projectId} sessionId={sessionId} viewerId={viewer.id} />
      <Composer onSend={send} onKeystroke={typing.keystroke} onStopTyping={typing.stop} />
    </main>
  );
}

/**
 * The first message that was unread when the session opened (the "New messages" divider stays there
 * while the session is open, even as reading moves the marker): fixed once the marker and the
 * messages are known. Others' messages only: own messages are never unread.
 */
function useFirstUnreadAtOpen(projectId: string, sessionId: string, stored: MessageDTO[], viewerId: string): number | null {
  const markers = useReadMarkers(projectId);
  const [atOpen, setAtOpen] = useState<{ sessionId: string; seq: number | null } | null>(null);
  const known = markers !== undefined && stored.length > 0;
  useEffect(() => {
    if (!known || atOpen?.sessionId === sessionId) return;
    const marker = markers[sessionId] ?? 0;
    const first = stored.find((m) => m.seq > marker && m.authorId !== viewerId && !m.deleted);
    setAtOpen({ sessionId, seq: first?.seq ?? null });
  }, [known, atOpen, markers, sessionId, stored, viewerId]);
  return atOpen?.sessionId === sessionId ? atOpen.seq : null;
}
