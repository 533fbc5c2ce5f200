import 'server-only';
import type { ScriptedRedis } from '~/server/redis/scripts';
import type { Redis } from 'ioredis';
import { decodeEvent, type StreamEntry } from '~/server/chat/codec';
import { headEventId, readEventsAfter } from '~/server/chat/event-log';
import type { ChatEvent } from '~/shared/types';
import { isRedisUnavailable, toAppError } from '~/server/errors';
import { idInKey, keys } from '~/server/redis/keys';
import { createSubscriber, getRedis } from '~/server/redis/client';
import { subscribeTo, unsubscribeFrom } from '~/server/redis/cluster';
import { errorFields, logger } from '~/server/log';

/**
 * What a local subscriber receives: log entries in order (decoded once per process, not once per
 * subscriber: with 100 tabs on a project that is 100x less JSON parsing), or a note that it must refetch.
 */
export type TailItem = { kind: 'entry'; id: string; event: ChatEvent } | { kind: 'resync'; at: string };
type Listener = (item: TailItem) => void;

const READ_BATCH = 500;
/**
 * After a failed read (Redis down), the tail retries this often until a read succeeds. There is no
 * periodic polling otherwise: an idle project costs Redis nothing. A wake-up cannot be lost while the
 * subscriber connection is up (pub/sub is delivered in order on it), and after a reconnect every tail
 * confirms its subscription and then reads once (resubscribeAll below), so a read per followed project
 * every few seconds bought nothing but load (issue 14 item 8: 200 idle streams made Redis serve 300 calls/s).
 */
const RETRY_INTERVAL_MS = 1000;

/**
 * A project's log, followed once per process. Whatever the number of local subscriptions, each new
 * entry is read from Redis once and handed to all of them, in order.
 */
class ProjectTail {
  readonly listeners = new Set<Listener>();
  /** The newest entry already handed out; a subscriber joining now gets everything after it. */
  position: string | null = null;
  private reading = false;
  private readAgain = false;

  constructor(
    readonly projectId: string,
    private readonly redis: ScriptedRedis,
  ) {}

  async start(): Promise<void> {
    this.position = await headEventId(this.redis, this.projectId);
  }

  /**
   * Reads all entries after `position` and fans them out. Coalesces concurrent wake-ups. If `position`
   * has left the log (trimmed past a slow reader, or Redis restarted without its latest writes - whose
   * new ids may already lie beyond it), every subscriber is told to resync and the tail restarts at the
   * head; no entry is ever handed out across such a gap.
   */
  async pull(): Promise<void> {
    if (this.position === null) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        let batch: StreamEntry[] | null;
        do {
          batch = await readEventsAfter(this.redis, this.projectId, this.position, READ_BATCH);
          if (batch === null) {
            const head = await headEventId(this.redis, this.projectId);
            this.position = head;
            this.emit({ kind: 'resync', at: head });
            break;
          }
          // Delivered synchronously, so a subscriber that registers between two awaits sees a
          // `position` consistent with what it has (not) been handed.
          for (const entry of batch) {
            this.position = entry[0];
            this.emit({ kind: 'entry', id: entry[0], event: decodeEvent(this.projectId, entry) });
          }
        } while (batch.length === READ_BATCH);
      } while (this.readAgain);
    } finally {
      this.reading = false;
    }
  }

  private emit(item: TailItem) {
    for (const listener of this.listeners) listener(item);
  }
}

/**
 * The per-process event hub: ONE Redis subscriber connection for wake-ups, however many tabs and
 * projects, plus one tail per followed project. On a Redis Cluster the project channels are sharded
 * (SSUBSCRIBE): ioredis then keeps one subscriber connection per master that holds a followed project
 * (at most one per master, opened on demand), besides one for the plain per-user channels. Several app processes on one Redis each run a hub and
 * read the same logs, so all of them deliver every event.
 */
export class EventHub {
  private readonly tails = new Map<string, Promise<ProjectTail>>();
  private subscriber: Redis | null = null;
  /**
   * Followed projects whose wake-up subscription is not known to be in place on the subscriber as it is
   * now (it reconnected, or was replaced): each is SUBSCRIBEd again, and its log read only once Redis
   * confirmed that, so no write can fall between the read and the subscription (see confirmWakeUps).
   */
  private readonly unconfirmed = new Set<string>();
  /** Projects whose last read failed, retried on a timer until one succeeds. */
  private readonly retrying = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Streams to end when their login is signed out, by token hash (see watchLogin). */
  private readonly loginWatchers = new Map<string, Set<() => void>>();
  private revocationsSubscribed: Promise<void> | null = null;
  /** Listeners of ephemeral signal channels (typing, presence, a user's read markers), by channel. */
  private readonly signalListeners = new Map<string, Set<(message: string) => void>>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly createSubscriber: () => Redis,
  ) {}

  /**
   * Follows a project's log. `from` is the position after which `listener` will be handed every entry;
   * the caller catches up to `from` itself (from its lastEventId) and de-duplicates by id.
   */
  async follow(projectId: string, listener: Listener): Promise<{ from: string; stop: () => void }> {
    let pending = this.tailFor(projectId);
    let tail = await pending;
    // The last subscriber of this tail may have left while we waited, dropping it; then start anew.
    while (this.tails.get(projectId) !== pending) {
      pending = this.tailFor(projectId);
      tail = await pending;
    }
    tail.listeners.add(listener);
    const from = tail.position!;
    // In case a write landed between the tail's start and now.
    void this.pullProject(projectId);
    return {
      from,
      stop: () => {
        tail.listeners.delete(listener);
        if (tail.listeners.size === 0) this.drop(projectId);
      },
    };
  }

  /** Number of projects this process follows (for health/metrics and tests). */
  get followedProjects(): number {
    return this.tails.size;
  }

  /**
   * Calls `onRevoked` when the login with this token hash is signed out, in any process (AuthService
   * publishes the hash on keys.loginRevoked). Resolves once this process listens; returns the stop.
   */
  async watchLogin(tokenHash: string, onRevoked: () => void): Promise<() => void> {
    let set = this.loginWatchers.get(tokenHash);
    if (!set) this.loginWatchers.set(tokenHash, (set = new Set()));
    set.add(onRevoked);
    const stop = () => {
      set.delete(onRevoked);
      if (set.size === 0 && this.loginWatchers.get(tokenHash) === set) this.loginWatchers.delete(tokenHash);
    };
    try {
      this.revocationsSubscribed ??= this.subscribe(keys.loginRevoked);
      await this.revocationsSubscribed;
    } catch (err) {
      this.revocationsSubscribed = null;
      stop();
      throw toAppError(err);
    }
    return stop;
  }

  /**
   * Listens to an ephemeral pub/sub channel on the process's one subscriber connection (signals are
   * never in the event log: missed while disconnected, they are simply gone). Resolves once this
   * process listens; returns the stop.
   */
  async listen(channel: string, listener: (message: string) => void): Promise<() => void> {
    let set = this.signalListeners.get(channel);
    if (!set) this.signalListeners.set(channel, (set = new Set()));
    set.add(listener);
    const stop = () => {
      set.delete(listener);
      if (set.size === 0 && this.signalListeners.get(channel) === set) {
        this.signalListeners.delete(channel);
        if (this.subscriber) void unsubscribeFrom(this.subscriber, channel).catch(() => undefined);
      }
    };
    try {
      await this.subscribe(channel);
    } catch (err) {
      stop();
      throw toAppError(err);
    }
    return stop;
  }

  async close(): Promise<void> {
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
    this.retrying.clear();
    this.unconfirmed.clear();
    this.loginWatchers.clear();
    this.signalListeners.clear();
    this.revocationsSubscribed = null;
    this.tails.clear();
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  private tailFor(projectId: string): Promise<ProjectTail> {
    let pending = this.tails.get(projectId);
    if (!pending) {
      pending = this.startTail(projectId);
      this.tails.set(projectId, pending);
      // A failed start (Redis down) must not poison later attempts.
      pending.catch(() => {
        if (this.tails.get(projectId) === pending) this.tails.delete(projectId);
      });
    }
    return pending;
  }

  private async startTail(projectId: string): Promise<ProjectTail> {
    try {
      // Subscribe to wake-ups BEFORE reading the head, so no write can fall between the two unnoticed.
      await this.subscribe(keys.wakeChannel(projectId));
    } catch (err) {
      throw toAppError(err);
    }
    const tail = new ProjectTail(projectId, this.redis);
    await tail.start();
    return tail;
  }

  private drop(projectId: string) {
    const pending = this.tails.get(projectId);
    this.tails.delete(projectId);
    this.unconfirmed.delete(projectId);
    void pending?.then(() => {
      // Re-followed meanwhile? Then the new tail owns the channel subscription.
      if (!this.tails.has(projectId)) {
        if (this.subscriber) void unsubscribeFrom(this.subscriber, keys.wakeChannel(projectId)).catch(() => undefined);
      }
    }, () => undefined);
  }

  /** `replacing`: the subscriptions of a replaced subscriber are to be restored on this one once ready. */
  private ensureSubscriber(replacing = false): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = this.createSubscriber();
    const onMessage = (channel: string, message: string) => {
      if (channel === keys.loginRevoked) {
        for (const onRevoked of [...(this.loginWatchers.get(message) ?? [])]) onRevoked();
        return;
      }
      const signal = this.signalListeners.get(channel);
      if (signal) {
        for (const listener of [...signal]) listener(message);
        return;
      }
      const projectId = projectIdOfWakeChannel(channel);
      if (projectId) void this.pullProject(projectId);
    };
    // Plain pub/sub ('message'); on a cluster the project channels are sharded ('smessage').
    sub.on('message', onMessage);
    sub.on('smessage', onMessage);
    // After a reconnect ioredis re-subscribes by itself; wake-ups sent meanwhile were lost, so read.
    // (A sign-out published meanwhile is missed too; such a stream ends at its next reconnect, which
    // checks the login again.) On a cluster the sharded subscribers (one per master) come and go with
    // failovers, restarts and resharding on their own; 'subscribersReady' follows each such change.
    // ioredis re-subscribes those without waiting for Redis to confirm it (and drops its errors), so a
    // read right away could miss a write that lands before the subscription does: the hub subscribes
    // again itself and reads after the confirmation.
    const resubscribeAll = () => {
      if (sub !== this.subscriber) return;
      for (const projectId of this.tails.keys()) this.unconfirmed.add(projectId);
      if (sub.status !== 'ready') return; // its 'ready' comes back here
      for (const projectId of this.tails.keys()) void this.pullProject(projectId);
    };
    // Until a new subscriber was first ready there is nothing to restore: whatever is followed meanwhile
    // subscribed on it by itself (its SUBSCRIBE waited for the connection) - unless it replaces another.
    let restores = replacing;
    sub.on('ready', () => {
      if (restores) resubscribeAll();
      restores = true;
    });
    sub.on('subscribersReady', () => {
      if (restores) resubscribeAll();
    });
    this.subscriber = sub;
    return sub;
  }

  /**
   * Subscribes the current subscriber to `channel`. A SUBSCRIBE refused while the subscriber says it
   * is connected, for another reason than Redis being unreachable or slow, means that subscriber is
   * wedged, and it is replaced (see replaceSubscriber).
   */
  private async subscribe(channel: string): Promise<void> {
    const sub = this.ensureSubscriber();
    try {
      await subscribeTo(sub, channel);
    } catch (err) {
      if (sub === this.subscriber && sub.status === 'ready' && !isRedisUnavailable(err)) this.replaceSubscriber(sub, err);
      throw err;
    }
  }

  /**
   * Replaces a subscriber that is connected but cannot subscribe. ioredis 6's Cluster can end up so
   * after a whole-cluster restart: when it drops its sharded subscribers while one of them is still
   * connecting, that connection's start never settles, and its sharded subscriber group waits on it
   * forever - it never again replaces a lost subscriber nor re-subscribes a channel, and SSUBSCRIBE
   * fails with "No sharded subscriber for slot" (issue #13: a tab missed every later message). A new
   * connection starts with a new group: the tails' wake-ups are confirmed on it (then read) once it is
   * ready, and the sign-out and signal channels subscribed again.
   */
  private replaceSubscriber(wedged: Redis, cause: unknown) {
    logger('realtime').warn({ ...errorFields(cause) }, 'the pub/sub subscriber cannot subscribe although connected; replacing it');
    this.subscriber = null;
    wedged.disconnect();
    const sub = this.ensureSubscriber(true);
    // Its 'ready' confirms every tail's wake-ups (resubscribeAll); the others are subscribed then too.
    const channels = [...this.signalListeners.keys()];
    const revocations = this.loginWatchers.size > 0 || this.revocationsSubscribed !== null;
    this.revocationsSubscribed = null;
    sub.once('ready', () => {
      if (sub !== this.subscriber) return;
      if (revocations) {
        this.revocationsSubscribed ??= this.subscribe(keys.loginRevoked);
        this.revocationsSubscribed.catch((err: unknown) => {
          this.revocationsSubscribed = null;
          logSubscribeError(keys.loginRevoked)(err);
        });
      }
      for (const channel of channels) {
        if (this.signalListeners.has(channel)) void this.subscribe(channel).catch(logSubscribeError(channel));
      }
    });
  }

  /**
   * Makes sure the project's wake-ups reach the current subscriber before its log is read (a no-op
   * unless the subscriber reconnected or was replaced since the last confirmation).
   */
  private async confirmWakeUps(projectId: string): Promise<void> {
    if (!this.unconfirmed.has(projectId)) return;
    const sub = this.ensureSubscriber();
    // Not while it is (re)connecting: its 'ready' comes back here (SUBSCRIBEs queued meanwhile would
    // only pile up in ioredis's list of channels to restore).
    if (sub.status !== 'ready') throw new Error('the pub/sub subscriber is not connected');
    this.unconfirmed.delete(projectId);
    try {
      await this.subscribe(keys.wakeChannel(projectId));
    } catch (err) {
      if (this.tails.has(projectId)) this.unconfirmed.add(projectId);
      throw err;
    }
  }

  private async pullProject(projectId: string) {
    const pending = this.tails.get(projectId);
    if (!pending) return;
    try {
      const tail = await pending;
      await this.confirmWakeUps(projectId);
      await tail.pull();
    } catch (err) {
      logTailError(projectId)(err);
      this.retryLater(projectId);
    }
  }

  /** A failed read is retried on a timer (only while some read is failing: no idle polling). */
  private retryLater(projectId: string) {
    this.retrying.add(projectId);
    if (this.retryTimer) return;
    this.retryTimer = setInterval(() => {
      const due = [...this.retrying];
      this.retrying.clear();
      if (due.length === 0 && this.retryTimer) {
        clearInterval(this.retryTimer);
        this.retryTimer = null;
        return;
      }
      for (const pid of due) void this.pullProject(pid);
    }, RETRY_INTERVAL_MS);
    this.retryTimer.unref();
  }
}

function projectIdOfWakeChannel(channel: string): string | null {
  return idInKey(keys.wakeChannel, channel);
}

function logSubscribeError(channel: string) {
  return (err: unknown) => {
    logger('realtime').warn({ channel, ...errorFields(err) }, 'subscribing again after replacing the subscriber failed');
  };
}

function logTailError(projectId: string) {
  return (err: unknown) => {
    // The hub retries; subscribers stay attached and get everything once Redis answers again.
    logger('realtime').warn({ projectId, ...errorFields(err) }, 'reading the project log failed; will retry');
  };
}

const globalForHub = globalThis as unknown as { parleyEventHub?: EventHub };

/** The process's hub (kept on globalThis so dev hot reload does not open another subscriber). */
export function getEventHub(): EventHub {
  // The subscriber keeps the command connection's deadlines: they bound SUBSCRIBE itself, while pushed
  // wake-ups are not commands and never time out.
  globalForHub.parleyEventHub ??= new EventHub(getRedis(), () => createSubscriber());
  return globalForHub.parleyEventHub;
}
