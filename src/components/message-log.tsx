'use client';
import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { OutboxEntry, TimelineItem } from '~/client/cache-updates';
import type { Viewer } from '~/shared/types';
import { PendingMessage, StoredMessage } from './message-item';

/** Within this many pixels of the bottom counts as "at the bottom". */
const BOTTOM_SLACK = 40;
/** Start loading older messages this far before the top is reached. */
const LOAD_AHEAD = 800;

const idOf = (item: TimelineItem | undefined) =>
  item === undefined ? null : item.kind === 'stored' ? item.message.id : item.entry.id;

/**
 * The message log. The scroller is a `column-reverse` flex box: its scroll origin is the bottom, so
 * the page opens at the newest message before any script runs, stays pinned there as messages
 * arrive, and keeps its place when older pages are added above. Only one case needs help: a new
 * message while the reader has scrolled up, where we hold the view still and show a marker.
 */
export function MessageLog({
  items,
  viewer,
  hasOlder,
  loadingOlder,
  refreshing = false,
  onLoadOlder,
  onRetry,
  onAtLatestChange,
  firstUnreadSeq = null,
}: {
  items: TimelineItem[];
  viewer: Viewer;
  hasOlder: boolean;
  loadingOlder: boolean;
  /**
   * The loaded pages are being refetched (e.g. after a resync). A request for an older page then is
   * dropped (it must not restart the refetch), so the top is checked again once the refetch is over -
   * else a reader who scrolled up meanwhile would wait at "Load older messages" for another scroll.
   */
  refreshing?: boolean;
  onLoadOlder: () => void;
  onRetry: (entry: OutboxEntry) => void;
  /** Whether the newest message is in view (at the bottom), reported on every render and scroll. */
  onAtLatestChange?: (atLatest: boolean) => void;
  /** Where the "New messages" divider goes (the first unread message when the session opened). */
  firstUnreadSeq?: number | null;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  /** The last message at the previous render, and the space (padding, margins) below it then. */
  const tail = useRef<{ id: string | null; spaceBelow: number }>({ id: idOf(items.at(-1)), spaceBelow: 0 });
  const [unseen, setUnseen] = useState(false);

  const distanceFromBottom = (el: HTMLElement) => Math.abs(el.scrollTop);
  const distanceFromTop = (el: HTMLElement) => el.scrollHeight - el.clientHeight - Math.abs(el.scrollTop);

  const maybeLoadOlder = useCallback(() => {
    const el = scroller.current;
    if (el && hasOlder && !loadingOlder && !refreshing && distanceFromTop(el) < LOAD_AHEAD) onLoadOlder();
  }, [hasOlder, loadingOlder, refreshing, onLoadOlder]);

  // New last message: follow it if the reader is at the bottom or just wrote it; otherwise hold still.
  useLayoutEffect(() => {
    const el = scroller.current;
    const content = el?.firstElementChild as HTMLElement | null | undefined;
    if (!el || !content) return;
    const spaceBelow = (node: Element | null | undefined) =>
      node instanceof HTMLElement ? content.offsetHeight - (node.offsetTop + node.offsetHeight) : 0;
    const byId = (id: string) => content.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"]`);

    const last = items.at(-1);
    const id = idOf(last);
    const previous = tail.current;
    tail.current = { id, spaceBelow: spaceBelow(id ? byId(id) : null) };
    if (!last || id === previous.id || previous.id === null) return;

    // Written in this tab (it shows from the outbox first): take the writer to it.
    if (last.kind === 'outbox') {
      el.scrollTop = 0;
      setUnseen(false);
      return;
    }
    if (distanceFromBottom(el) <= BOTTOM_SLACK) return; // pinned by the column-reverse layout
    const added = spaceBelow(byId(previous.id)) - previous.spaceBelow;
    if (added > 0) el.scrollTop -= added;
    setUnseen(true);
  }, [items]);

  // Opening a session with unread messages: start at the divider rather than at the bottom.
  const scrolledToDivider = useRef(false);
  useLayoutEffect(() => {
    if (scrolledToDivider.current || firstUnreadSeq === null) return;
    const divider = scroller.current?.querySelector<HTMLElement>('.unread-divider');
    if (!divider) return;
    scrolledToDivider.current = true;
    divider.scrollIntoView({ block: 'start' });
  }, [firstUnreadSeq, items]);

  useEffect(() => {
    const el = scroller.current;
    if (el) onAtLatestChange?.(distanceFromBottom(el) <= BOTTOM_SLACK);
  }, [items, onAtLatestChange]);

  // Short content, or a page that just arrived, may leave the top in view: keep loading.
  useEffect(() => {
    maybeLoadOlder();
  }, [maybeLoadOlder, items.length]);

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    if (unseen && distanceFromBottom(el) <= BOTTOM_SLACK) setUnseen(false);
    onAtLatestChange?.(distanceFromBottom(el) <= BOTTOM_SLACK);
    maybeLoadOlder();
  }

  function jumpToLatest() {
    scroller.current?.scrollTo({ top: 0, behavior: 'smooth' });
    setUnseen(false);
  }

  return (
    <div className="log-wrap">
      <div
        ref={scroller}
        className="log"
        role="log"
        aria-label="Messages"
        aria-busy={loadingOlder}
        tabIndex={0}
        onScroll={onScroll}
      >
        <div className="log-content">
          <div className="log-start">
            {hasOlder ? (
              <button type="button" className="button subtle small" onClick={onLoadOlder} disabled={loadingOlder}>
                {loadingOlder ? 'Loading older messages…' : 'Load older messages'}
              </button>
            ) : (
              <span className="muted small">{items.length === 0 ? 'No messages yet. Say hello!' : 'Start of the conversation'}</span>
            )}
          </div>
          {items.map((item) =>
            item.kind === 'stored' ? (
              <Fragment key={item.message.id}>
                {item.message.seq === firstUnreadSeq && (
                  <div className="unread-divider" role="separator" aria-label="New messages">
                    <span>New messages</span>
                  </div>
                )}
                <StoredMessage message={item.message} viewerId={viewer.id} />
              </Fragment>
            ) : (
              <PendingMessage
                key={item.entry.id}
                entry={item.entry}
                authorId={viewer.id}
                authorName={viewer.username}
                onRetry={onRetry}
              />
            ),
          )}
        </div>
      </div>
      {unseen && (
        <button type="button" className="new-messages" onClick={jumpToLatest}>
          New messages ↓
        </button>
      )}
    </div>
  );
}
