import 'server-only';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { decodeEvent, type StreamEntry } from '~/server/chat/codec';
import { readEventsAfter } from '~/server/chat/event-log';
import { compareEventIds } from '~/shared/event-id';
import { metrics } from '~/server/metrics';
import type { ChatEvent } from '~/shared/types';
import type { EventHub, TailItem } from './hub';

/** A subscriber that falls this far behind is cut loose and told to resync (memory stays bounded). */
const MAX_BUFFERED = 5000;
const CATCH_UP_BATCH = 500;

export interface TrackedEvent {
  /** The log id; for an ephemeral signal, the id of the last log entry yielded before it. */
  id: string;
  event: ChatEvent;
}

/** Ephemeral events: delivered live on the same stream, never written to (or read from) the log. */
export const EPHEMERAL_TYPES: ReadonlySet<ChatEvent['type']> = new Set(['read.updated', 'typing', 'presence']);

/**
 * One tab's view of a project's log (see rawProjectEvents), with consecutive `resync`s folded into one:
 * a tab refetches once, not once per unreadable entry (e.g. a catch-up across an evicted session).
 */
export async function* projectEvents(opts: Parameters<typeof rawProjectEvents>[0]): AsyncGenerator<TrackedEvent> {
  let previousWasResync = false;
  for await (const tracked of rawProjectEvents(opts)) {
    const isResync = tracked.event.type === 'resync';
    if (!(isResync && previousWasResync)) yield tracked;
    previousWasResync = isResync;
  }
}

/**
 * One tab's view of a project's log: catch up from `lastEventId`, then follow live, in order, with
 * nothing missed and nothing twice.
 *
 * Order of operations matters: we start following the live tail FIRST (buffering), then read the
 * backlog up to the tail's position, then drain the buffer skipping anything already yielded. A write
 * that lands at any moment is therefore in the backlog, in the buffer, or both - never in neither.
 */
async function* rawProjectEvents(opts: {
  redis: ScriptedRedis;
  hub: EventHub;
  projectId: string;
  lastEventId: string | null | undefined;
  signal: AbortSignal | undefined;
  /** Ephemeral pub/sub channels to merge in (JSON events; only this project's are kept). */
  signalChannels?: string[];
}): AsyncGenerator<TrackedEvent> {
  const { redis, hub, projectId, signal } = opts;
  const buffer: Array<TailItem | { kind: 'signal'; event: ChatEvent }> = [];
  let overflowed = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const { from, stop } = await hub.follow(projectId, (item) => {
    if (buffer.length >= MAX_BUFFERED) overflowed = true;
    else buffer.push(item);
    notify();
  });
  const stops: Array<() => void> = [stop];
  const onSignal = (message: string) => {
    const event = parseSignal(message, projectId);
    // Signals are droppable by nature: a flood never grows the buffer past its bound.
    if (!event || buffer.length >= MAX_BUFFERED) return;
    buffer.push({ kind: 'signal', event });
    notify();
  };
  signal?.addEventListener('abort', notify, { once: true });
  metrics().sseSubscribers.inc();

  try {
    for (const channel of opts.signalChannels ?? []) stops.push(await hub.listen(channel, onSignal));
    let last: string;
    if (!opts.lastEventId) {
      yield { id: from, event: { type: 'ready', projectId } };
      last = from;
    } else {
      // Catch up to the tail's position; everything after it arrives through the buffer. Every read
      // also checks that the position it reads after is still in the log, so the first read tells
      // whether lastEventId can be caught up at all (a reader already at or past `from` reads nothing).
      last = opts.lastEventId;
      for (;;) {
        const batch: StreamEntry[] | null = await readEventsAfter(redis, projectId, last, CATCH_UP_BATCH, from);
        if (batch === null) {
          // Trimmed away (before or during the catch-up) or reset: only a refetch can fill the gap.
          yield { id: from, event: { type: 'resync', projectId } };
          last = from;
          break;
        }
        for (const entry of batch) {
          yield { id: entry[0], event: decodeEvent(projectId, entry) };
          last = entry[0];
        }
        if (batch.length < CATCH_UP_BATCH) break;
      }
    }

    while (!signal?.aborted) {
      if (overflowed) {
        overflowed = false;
        buffer.length = 0;
        yield { id: last, event: { type: 'resync', projectId } };
        continue;
      }
      const item = buffer.shift();
      if (!item) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if (item.kind === 'signal') {
        yield { id: last, event: item.event };
        continue;
      }
      if (item.kind === 'resync') {
        last = item.at;
        yield { id: item.at, event: { type: 'resync', projectId } };
        continue;
      }
      const { id } = item;
      if (compareEventIds(id, last) <= 0) continue; // already yielded during catch-up
      last = id;
      yield { id, event: item.event };
    }
  } finally {
    metrics().sseSubscribers.dec();
    for (const s of stops) s();
    signal?.removeEventListener('abort', notify);
  }
}

/** An ephemeral signal from pub/sub, if it is one of ours and about this project. */
function parseSignal(message: string, projectId: string): ChatEvent | null {
  try {
    const event = JSON.parse(message) as ChatEvent;
    if (!EPHEMERAL_TYPES.has(event.type) || !('projectId' in event) || event.projectId !== projectId) return null;
    return event;
  } catch {
    return null; // not JSON: not a signal of ours
  }
}
