/** Reads a tRPC subscription in tests: take the next N events (with a deadline), then close it. */
import type { ChatEvent } from '~/shared/types';

export interface ReceivedEvent {
  id: string;
  event: ChatEvent;
}

export interface OpenSubscription {
  take(n: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** Events that arrive within `ms` (to prove that nothing more comes). */
  drain(ms: number): Promise<ReceivedEvent[]>;
  close(): Promise<void>;
}

/** tracked(id, data) reaches a server-side caller as the envelope [id, data, symbol]. */
function unwrap(value: unknown): ReceivedEvent {
  if (Array.isArray(value)) return { id: value[0] as string, event: value[1] as ChatEvent };
  const v = value as { id: string; data: ChatEvent };
  return { id: v.id, event: v.data };
}

export async function openSubscription(iterable: AsyncIterable<unknown> | Promise<AsyncIterable<unknown>>): Promise<OpenSubscription> {
  const it = (await iterable)[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<unknown>> | null = null;
  const nextWithin = async (ms: number): Promise<ReceivedEvent | null> => {
    pending ??= it.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
    const result = await Promise.race([pending, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') return null;
    pending = null;
    if (result.done) throw new Error('subscription ended');
    return unwrap(result.value);
  };
  return {
    async take(n, timeoutMs = 5000) {
      const out: ReceivedEvent[] = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < n) {
        const ev = await nextWithin(Math.max(1, deadline - Date.now()));
        if (!ev) throw new Error(`timed out after ${out.length} of ${n} events`);
        out.push(ev);
      }
      return out;
    },
    async drain(ms) {
      const out: ReceivedEvent[] = [];
      const deadline = Date.now() + ms;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return out;
        const ev = await nextWithin(left);
        if (!ev) return out;
        out.push(ev);
      }
    },
    async close() {
      // Let a pending next() settle on its own; return() ends the generator and runs its finally.
      await Promise.race([it.return?.(), new Promise((r) => setTimeout(r, 200))]);
    },
  };
}
