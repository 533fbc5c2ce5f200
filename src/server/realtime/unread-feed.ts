import 'server-only';
import type { ReadState, UnreadTotals } from '~/server/chat/read-state';
import { keys } from '~/server/redis/keys';
import type { ChatEvent } from '~/shared/types';
import type { EventHub, TailItem } from './hub';

/**
 * The home page's live unread totals for one user (issue 10): ONE stream per home page, however many
 * projects, instead of one per project. It follows the user's projects through the process's hub
 * (each project's log is read once per process whatever the number of listeners, and usually is
 * already, for the project pages open in this process) and the user's own signal channel (read
 * markers moved in another tab or device). Whenever something that can change a total happens in a
 * project (a message by someone else, an edit or delete - mentions may change -, the user's marker
 * moving, a gap in the log), that project's totals are recomputed (one Lua script) and sent.
 *
 * The first item holds every project's totals, computed AFTER the follows are in place: nothing that
 * lands meanwhile can be missed. Changes that arrive while an item is being computed are coalesced
 * into the next one, so a burst of messages costs one recomputation, not one per message.
 *
 * The project set is the user's at the start; a project joined later is followed from the next
 * connection (the home page reconnects when it is shown again).
 */
export async function* unreadFeed(opts: {
  hub: EventHub;
  readState: ReadState;
  userId: string;
  projectIds: string[];
  signal: AbortSignal | undefined;
}): AsyncGenerator<UnreadTotals> {
  const { hub, readState, userId, signal } = opts;
  const projects = new Set(opts.projectIds);
  const dirty = new Set<string>();
  let wake: (() => void) | null = null;
  const mark = (projectId: string) => {
    if (!projects.has(projectId)) return;
    dirty.add(projectId);
    const w = wake;
    wake = null;
    w?.();
  };
  signal?.addEventListener('abort', () => wake?.(), { once: true });

  const stops: Array<() => void> = [];
  try {
    stops.push(
      await hub.listen(keys.userSignals(userId), (message) => {
        const projectId = readUpdatedProject(message);
        if (projectId) mark(projectId);
      }),
    );
    for (const projectId of projects) {
      const { stop } = await hub.follow(projectId, (item) => {
        if (changesTotals(item, userId)) mark(projectId);
      });
      stops.push(stop);
    }
    dirty.clear();
    yield await readState.unreadTotals([...projects], userId);

    while (!signal?.aborted) {
      if (dirty.size === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const due = [...dirty];
      dirty.clear();
      yield await readState.unreadTotals(due, userId);
    }
  } finally {
    for (const stop of stops) stop();
  }
}

/** Whether a log item can change this user's totals in its project (signals never come through the log). */
function changesTotals(item: TailItem, userId: string): boolean {
  if (item.kind === 'resync') return true;
  const event: ChatEvent = item.event;
  switch (event.type) {
    case 'message.created':
      // Own messages are never unread (the author's marker moves past them).
      return event.message.authorId !== userId;
    case 'message.updated':
    case 'message.deleted':
      // An edit may add or remove a mention of the user; a delete drops its mentions.
      return event.message.authorId !== userId;
    case 'resync':
      return true;
    case 'session.created':
    case 'session.updated':
    case 'member.added':
    case 'member.removed':
    case 'ready':
    case 'read.updated':
    case 'typing':
    case 'presence':
      return false;
  }
}

/** The project of a `read.updated` signal on the user's channel, else null. */
function readUpdatedProject(message: string): string | null {
  try {
    const event = JSON.parse(message) as Partial<ChatEvent>;
    return event.type === 'read.updated' && 'projectId' in event && typeof event.projectId === 'string' ? event.projectId : null;
  } catch {
    return null;
  }
}
