/**
 * One project's live events in one tab, with ONE subscription per browser, not per tab.
 *
 * HTTP/1.1 allows about six connections per host across all tabs, so an SSE stream per tab freezes
 * the sixth tab. Instead the tabs of a project elect a leader with the Web Locks API
 * (`navigator.locks.request('parley-events-<projectId>')`): the lock holder subscribes to
 * `events.subscribe` and relays every event, with its log id, over
 * `BroadcastChannel('parley-events-<projectId>')`. Every tab, leader included, applies the events to
 * its own caches. When the leader closes, the browser hands the lock to the next waiting tab, which
 * subscribes from the last event id IT saw, so nothing is missed; ids it has already seen are
 * skipped, so nothing is applied twice.
 *
 * Followers learn the connection state ("Live" / "Reconnecting") from the leader's status messages.
 * A tab that joins asks the leader for its status and position (`hello`), then refetches once: the
 * data it was rendered with may predate the moment it started listening.
 *
 * This module knows nothing about React or React Query: the caller supplies `subscribe` (the tRPC
 * subscription) and the callbacks that touch caches.
 */
import type { ChatEvent } from '~/shared/types';
import { compareEventIds, laterEventId } from '~/shared/event-id';

export type ConnectionStatus = 'live' | 'reconnecting';

type ChannelMessage =
  | { kind: 'event'; id: string; event: ChatEvent }
  | { kind: 'status'; status: ConnectionStatus; lastEventId: string | null }
  | { kind: 'hello' };

export interface SubscriptionHandlers {
  /** One event of the log, with its id. */
  onData(id: string, event: ChatEvent): void;
  /** The stream is open. */
  onOpen(): void;
  /** The stream dropped and the transport is reconnecting by itself. */
  onReconnecting(): void;
  /** The subscription ended with an error it will not recover from by itself. */
  onError(error: unknown): void;
  /** The subscription ended without an error (the server closed it). */
  onComplete(): void;
}

/** The parts of BroadcastChannel and the Web Locks API used here (injectable for tests). */
export interface ChannelLike {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

export interface LocksLike {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

export interface EventSyncOptions {
  projectId: string;
  /** Opens `events.subscribe` from `lastEventId` (null: from now on, starting with `ready`). */
  subscribe(lastEventId: string | null, handlers: SubscriptionHandlers): { unsubscribe(): void };
  /** Applies a change to this tab's caches. */
  onEvent(event: ChatEvent): void;
  /** Refetches everything shown for the project: the caches may have missed events. */
  onResync(): void;
  onStatus(status: ConnectionStatus): void;
  /** Whether an error means the visitor is signed out (no point in retrying). */
  isUnauthorized(error: unknown): boolean;
  onUnauthorized(): void;
  /** Defaults: `new BroadcastChannel(name)` and `navigator.locks` (absent on insecure origins). */
  openChannel?: (name: string) => ChannelLike | null;
  locks?: LocksLike | null;
}

function defaultChannel(name: string): ChannelLike | null {
  return typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(name);
}

function defaultLocks(): LocksLike | null {
  return typeof navigator !== 'undefined' && navigator.locks ? navigator.locks : null;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 15_000;

export function eventsChannelName(projectId: string): string {
  return `parley-events-${projectId}`;
}

export class EventSync {
  private readonly name: string;
  private channel: ChannelLike | null = null;
  private readonly lockRequest = new AbortController();
  private releaseLock: (() => void) | null = null;
  private subscription: { unsubscribe(): void } | null = null;
  /** Increases with every subscription, so callbacks of an abandoned one are ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private lastEventId: string | null = null;
  private status: ConnectionStatus = 'reconnecting';
  private leader = false;
  private heardFromLeader = false;
  private stopped = false;

  constructor(private readonly opts: EventSyncOptions) {
    this.name = eventsChannelName(opts.projectId);
  }

  start(): void {
    this.channel = (this.opts.openChannel ?? defaultChannel)(this.name);
    if (this.channel) {
      this.channel.onmessage = (e: MessageEvent) => this.onChannelMessage(e.data as ChannelMessage);
      this.post({ kind: 'hello' });
    }
    const locks = this.opts.locks === undefined ? defaultLocks() : this.opts.locks;
    if (!locks) {
      // No Web Locks (only on insecure origins): each tab keeps its own subscription.
      void this.lead();
      return;
    }
    locks.request(this.name, { signal: this.lockRequest.signal }, () => this.lead()).catch((err: unknown) => {
      if (!(err instanceof DOMException && err.name === 'AbortError')) console.error('[events] lock failed', err);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.lockRequest.abort();
    this.closeSubscription();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Tell the followers at once; the next leader reports "Live" when its stream opens.
    if (this.leader) this.post({ kind: 'status', status: 'reconnecting', lastEventId: this.lastEventId });
    this.releaseLock?.();
    this.channel?.close();
  }

  /** Runs while this tab holds the lock; the lock is released when the returned promise settles. */
  private lead(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.leader = true;
    this.connect();
    return new Promise<void>((resolve) => {
      this.releaseLock = resolve;
    });
  }

  /** Whether this tab holds the project's stream (it alone sends presence heartbeats). */
  get isLeader(): boolean {
    return this.leader;
  }

  private connect(): void {
    if (this.stopped) return;
    this.setStatus('reconnecting');
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.stopped;
    this.subscription = this.opts.subscribe(this.lastEventId, {
      onOpen: () => {
        if (!current()) return;
        this.failures = 0;
        this.setStatus('live');
      },
      onReconnecting: () => {
        if (current()) this.setStatus('reconnecting');
      },
      onData: (id, event) => {
        if (!current()) return;
        this.failures = 0;
        this.setStatus('live');
        this.post({ kind: 'event', id, event });
        this.receive(id, event);
      },
      onError: (error) => {
        if (!current()) return;
        this.closeSubscription();
        this.setStatus('reconnecting');
        if (this.opts.isUnauthorized(error)) {
          this.opts.onUnauthorized();
          return;
        }
        this.scheduleReconnect();
      },
      onComplete: () => {
        if (!current()) return;
        this.closeSubscription();
        this.setStatus('reconnecting');
        this.scheduleReconnect();
      },
    });
  }

  /** Resubscribes from the last event this tab saw, with exponential backoff and jitter. */
  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = Math.min(RETRY_BASE_MS * 2 ** this.failures, RETRY_MAX_MS) * (0.75 + Math.random() * 0.5);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.closeSubscription();
      this.connect();
    }, delay);
  }

  private closeSubscription(): void {
    const sub = this.subscription;
    this.subscription = null;
    this.generation++;
    sub?.unsubscribe();
  }

  /** Every tab's entry point for an event, whether from its own stream or relayed. */
  private receive(id: string, event: ChatEvent): void {
    if (event.type === 'ready' || event.type === 'resync') {
      // `ready` starts a fresh stream: whatever happened before it is known only by refetching.
      this.lastEventId = laterEventId(this.lastEventId, id);
      this.opts.onResync();
      return;
    }
    // Ephemeral signals are not log entries: they carry the id of the entry before them, and are
    // applied as they come (they are idempotent and monotonic).
    if (isEphemeral(event)) {
      this.opts.onEvent(event);
      return;
    }
    if (this.lastEventId !== null && compareEventIds(id, this.lastEventId) <= 0) return; // seen it
    this.lastEventId = id;
    this.opts.onEvent(event);
  }

  private onChannelMessage(msg: ChannelMessage): void {
    if (this.stopped) return;
    switch (msg.kind) {
      case 'event':
        if (!this.leader) this.receive(msg.id, msg.event);
        return;
      case 'status':
        if (this.leader) return;
        this.lastEventId = laterEventId(this.lastEventId, msg.lastEventId);
        this.setStatus(msg.status);
        if (!this.heardFromLeader) {
          this.heardFromLeader = true;
          this.opts.onResync();
        }
        return;
      case 'hello':
        if (this.leader) this.post({ kind: 'status', status: this.status, lastEventId: this.lastEventId });
        return;
    }
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.opts.onStatus(status);
    if (this.leader) this.post({ kind: 'status', status, lastEventId: this.lastEventId });
  }

  private post(msg: ChannelMessage): void {
    try {
      this.channel?.postMessage(msg);
    } catch (err) {
      console.error('[events] relay failed', err);
    }
  }
}

/** Events that are not entries of the project's log (see src/server/realtime/subscription.ts). */
function isEphemeral(event: ChatEvent): boolean {
  return event.type === 'read.updated' || event.type === 'typing' || event.type === 'presence';
}
