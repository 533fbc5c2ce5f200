import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatEvent, MessageDTO } from '~/shared/types';
import { EventSync, type ChannelLike, type LocksLike, type SubscriptionHandlers } from './event-sync';
import { P } from '~/shared/test-fixtures';

/** BroadcastChannel semantics: async delivery to every OTHER open channel of the same bus. */
class Bus {
  readonly members = new Set<FakeChannel>();
}

class FakeChannel implements ChannelLike {
  onmessage: ((e: MessageEvent) => void) | null = null;
  constructor(private readonly bus: Bus) {
    bus.members.add(this);
  }
  postMessage(message: unknown): void {
    const data = structuredClone(message);
    for (const member of this.bus.members) {
      if (member === this) continue;
      setTimeout(() => {
        if (this.bus.members.has(member)) member.onmessage?.({ data } as MessageEvent);
      }, 0);
    }
  }
  close(): void {
    this.bus.members.delete(this);
  }
}

/** Web Locks semantics for one lock name: granted in request order, released when the callback settles. */
class FakeLocks implements LocksLike {
  private queue: Array<{ callback: () => Promise<void>; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private held = false;
  request(_name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry = { callback, resolve, reject };
      options.signal.addEventListener('abort', () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) {
          this.queue.splice(i, 1);
          reject(new DOMException('aborted', 'AbortError'));
        }
      });
      this.queue.push(entry);
      this.pump();
    });
  }
  private pump(): void {
    if (this.held) return;
    const next = this.queue.shift();
    if (!next) return;
    this.held = true;
    next
      .callback()
      .then(next.resolve, next.reject)
      .finally(() => {
        this.held = false;
        this.pump();
      });
  }
}

interface FakeSubscription {
  lastEventId: string | null;
  h: SubscriptionHandlers;
  closed: boolean;
}

function openTab(bus: Bus, locks: LocksLike | null) {
  const tab = {
    applied: [] as ChatEvent[],
    resyncs: 0,
    status: 'reconnecting' as string,
    subs: [] as FakeSubscription[],
    sync: null as unknown as EventSync,
    /** The tab's current stream (it must be the leader). */
    get stream(): SubscriptionHandlers {
      const s = tab.subs.at(-1);
      if (!s || s.closed) throw new Error('no open subscription');
      return s.h;
    },
  };
  tab.sync = new EventSync({
    projectId: P,
    subscribe: (lastEventId, h) => {
      const s: FakeSubscription = { lastEventId, h, closed: false };
      tab.subs.push(s);
      return { unsubscribe: () => (s.closed = true) };
    },
    onEvent: (e) => tab.applied.push(e),
    onResync: () => tab.resyncs++,
    onStatus: (s) => (tab.status = s),
    isUnauthorized: () => false,
    onUnauthorized: () => undefined,
    openChannel: () => new FakeChannel(bus),
    locks,
  });
  tab.sync.start();
  return tab;
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

function created(seq: number): ChatEvent {
  return { type: 'message.created', message: { id: `m-${seq}`, seq } as MessageDTO };
}

const tabs: Array<ReturnType<typeof openTab>> = [];
function track<T extends ReturnType<typeof openTab>>(t: T): T {
  tabs.push(t);
  return t;
}

afterEach(() => {
  for (const t of tabs.splice(0)) t.sync.stop();
  vi.useRealTimers();
});

describe('EventSync', () => {
  it('one tab leads and subscribes; every tab applies each relayed event once', async () => {
    const bus = new Bus();
    const locks = new FakeLocks();
    const a = track(openTab(bus, locks));
    const b = track(openTab(bus, locks));
    const c = track(openTab(bus, locks));
    await flush();
    expect(a.subs).toHaveLength(1);
    expect(a.subs[0]!.lastEventId).toBeNull();
    expect(b.subs).toHaveLength(0);
    expect(c.subs).toHaveLength(0);

    a.stream.onOpen();
    a.stream.onData('1-0', { type: 'ready', projectId: P });
    a.stream.onData('2-0', created(1));
    a.stream.onData('2-0', created(1)); // repeated
    a.stream.onData('3-0', created(2));
    await flush();
    for (const t of [a, b, c]) {
      expect(t.applied.map((e) => (e.type === 'message.created' ? e.message.seq : e.type))).toEqual([1, 2]);
      expect(t.resyncs).toBeGreaterThanOrEqual(1); // `ready`: what came before is known only by refetching
      expect(t.status).toBe('live');
    }
  });

  it('shares the leader’s connection state with the other tabs', async () => {
    const bus = new Bus();
    const locks = new FakeLocks();
    const a = track(openTab(bus, locks));
    const b = track(openTab(bus, locks));
    await flush();
    a.stream.onOpen();
    await flush();
    expect(b.status).toBe('live');
    a.stream.onReconnecting();
    await flush();
    expect([a.status, b.status]).toEqual(['reconnecting', 'reconnecting']);
  });

  it('hands over to the next tab, which resumes from the last event id it saw', async () => {
    const bus = new Bus();
    const locks = new FakeLocks();
    const a = track(openTab(bus, locks));
    const b = track(openTab(bus, locks));
    const c = track(openTab(bus, locks));
    await flush();
    a.stream.onOpen();
    a.stream.onData('5-0', created(1));
    a.stream.onData('6-0', created(2));
    await flush();

    a.sync.stop();
    await flush();
    expect(b.subs).toHaveLength(1);
    expect(b.subs[0]!.lastEventId).toBe('6-0');
    expect(c.subs).toHaveLength(0);

    // The catch-up may overlap what a tab already has: seen ids are skipped.
    b.stream.onOpen();
    b.stream.onData('6-0', created(2));
    b.stream.onData('7-0', created(3));
    await flush();
    for (const t of [b, c]) {
      expect(t.applied.map((e) => (e.type === 'message.created' ? e.message.seq : 0))).toEqual([1, 2, 3]);
      expect(t.status).toBe('live');
    }
  });

  it('a tab that joins later learns the leader’s position and refetches once', async () => {
    const bus = new Bus();
    const locks = new FakeLocks();
    const a = track(openTab(bus, locks));
    await flush();
    a.stream.onOpen();
    a.stream.onData('9-0', created(4));
    await flush();

    const late = track(openTab(bus, locks));
    await flush();
    expect(late.status).toBe('live');
    expect(late.resyncs).toBe(1);

    a.sync.stop();
    await flush();
    expect(late.subs[0]!.lastEventId).toBe('9-0');
  });

  it('resubscribes from its last event id, with backoff, after the stream fails', async () => {
    vi.useFakeTimers();
    const bus = new Bus();
    const a = track(openTab(bus, new FakeLocks()));
    await vi.advanceTimersByTimeAsync(0);
    a.stream.onOpen();
    a.stream.onData('4-2', created(1));
    a.subs[0]!.h.onError(new Error('SERVICE_UNAVAILABLE'));
    expect(a.status).toBe('reconnecting');
    expect(a.subs).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1000);
    expect(a.subs).toHaveLength(2);
    expect(a.subs[0]!.closed).toBe(true);
    expect(a.subs[1]!.lastEventId).toBe('4-2');

    // Fails again right away: the next attempt waits longer.
    a.subs[1]!.h.onError(new Error('SERVICE_UNAVAILABLE'));
    await vi.advanceTimersByTimeAsync(700);
    expect(a.subs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.subs).toHaveLength(3);
    expect(a.subs[2]!.lastEventId).toBe('4-2');
  });

  it('ignores callbacks of a subscription it has abandoned', async () => {
    vi.useFakeTimers();
    const a = track(openTab(new Bus(), new FakeLocks()));
    await vi.advanceTimersByTimeAsync(0);
    const first = a.subs[0]!.h;
    first.onError(new Error('down'));
    await vi.advanceTimersByTimeAsync(1000);
    first.onData('8-0', created(9)); // a late event from the old stream
    first.onComplete();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(a.applied).toEqual([]);
    expect(a.subs).toHaveLength(2);
  });

  it('without Web Locks (insecure origin) every tab subscribes by itself', async () => {
    const bus = new Bus();
    const a = track(openTab(bus, null));
    const b = track(openTab(bus, null));
    await flush();
    expect(a.subs).toHaveLength(1);
    expect(b.subs).toHaveLength(1);
    a.stream.onData('1-0', created(1));
    b.stream.onData('1-0', created(1));
    await flush();
    expect(a.applied).toHaveLength(1);
    expect(b.applied).toHaveLength(1);
  });
});
