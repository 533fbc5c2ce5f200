// Fan-out: 100 SSE subscribers on one project, N sequential sends; every subscriber must get every
// message exactly once, in order.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Subscriber } from './lib/http-client.mjs';
import { SIZES, TARGETS } from './lib/options.mjs';
import { closers } from './lib/processes.mjs';
import { addRow, addTarget, phase, report } from './lib/report.mjs';
import { compareEventIds } from '../../src/shared/event-id.ts';
import { messageContent, now, within } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  const fanoutStats = await phase(
    `fan-out to ${SIZES.fanout.subscribers} SSE subscribers`,
    () => fanout({ api: ctx.api, port: ctx.port, cookie: ctx.api.cookie }),
    { ops: SIZES.fanout.subscribers * SIZES.fanout.messages, unit: 'delivery' },
  );
  addTarget(
    `fan-out to ${SIZES.fanout.subscribers} p99`,
    `<= ${TARGETS.fanoutP99Ms} ms`,
    fanoutStats.p99,
    'ms',
    fanoutStats.p99 <= TARGETS.fanoutP99Ms,
  );
}

/**
 * 100 concurrent SSE subscribers on a fresh project, then N sequential sends with small gaps.
 * Delivery latency = send start -> a subscriber's receipt of that message's message.created event.
 * `label` prefixes the rows; the request path phase runs it on each way of serving /api/trpc.
 * @param {{ api: import('./lib/http-client.mjs').Api, port: number, cookie: string, messages?: number, label?: string }} opts
 */
export async function fanout({ api, port, cookie, messages = SIZES.fanout.messages, label = 'fan-out' }) {
  const { subscribers: count, gapMs } = SIZES.fanout;
  const project = await api.mutation('project.create', { name: 'Bench fan-out' });
  const projectId = /** @type {string} */ (project.id);
  const sessionId = /** @type {string} */ ((await api.mutation('session.create', { projectId, title: 'fan-out' })).id);

  /** @type {Map<string, number>} message id -> send start */
  const sentAt = new Map();
  /** @type {number[]} */
  const latencies = [];
  /** @type {Map<string, number>} message id -> last receipt */
  const lastReceipt = new Map();
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let received = 0;
  const expected = count * messages;
  /** @type {() => void} */
  let allIn = () => undefined;
  const allInPromise = new Promise((resolve) => {
    allIn = () => resolve(undefined);
  });

  const subs = Array.from({ length: count }, () => {
    /** @type {Set<string>} */
    const seen = new Set();
    let lastSeq = 0;
    let lastEventId = '0-0';
    return new Subscriber({
      port,
      cookie,
      projectId,
      onEvent: (event, eventId, t) => {
        if (event?.type !== 'message.created') return;
        // In order: log ids and seqs only go up (one session, sends one after another).
        if (eventId === null || compareEventIds(eventId, lastEventId) <= 0 || event.message.seq <= lastSeq) outOfOrder++;
        lastEventId = eventId ?? lastEventId;
        lastSeq = event.message.seq;
        const mid = /** @type {string} */ (event.message?.id);
        const start = sentAt.get(mid);
        if (start === undefined) {
          unexpected++;
          return;
        }
        if (seen.has(mid)) {
          duplicates++;
          return;
        }
        seen.add(mid);
        latencies.push(t - start);
        lastReceipt.set(mid, Math.max(lastReceipt.get(mid) ?? 0, t));
        if (++received === expected) allIn();
      },
    });
  });
  closers.push(() => subs.forEach((s) => s.close()));

  try {
    const ready = await within(Promise.all(subs.map((s) => s.ready)), 30_000);
    if (!ready) throw new Error(`fan-out: not all ${count} subscribers were ready within 30 s`);

    for (let i = 0; i < messages; i++) {
      const id = randomUUID();
      sentAt.set(id, now());
      await api.mutation('message.send', { projectId, sessionId, id, content: messageContent() });
      await sleep(gapMs);
    }
    await within(allInPromise, 10_000);
  } finally {
    subs.forEach((s) => s.close());
  }

  const failed = subs.filter((s) => s.error).map((s) => s.error?.message);
  const missing = expected - received;
  const perMessageLast = [...sentAt].map(([mid, start]) => (lastReceipt.get(mid) ?? NaN) - start).filter(Number.isFinite);
  const stats = addRow(
    `${label}: send -> each of ${count} subscribers`,
    latencies,
    undefined,
    `${messages} sends, ${gapMs} ms gaps; all (subscriber, message) pairs`,
  );
  addRow(`${label}: send -> last of ${count} subscribers`, perMessageLast, undefined, 'per message');
  const ok = missing === 0 && duplicates === 0 && unexpected === 0 && outOfOrder === 0 && failed.length === 0;
  const delivery = {
    subscribers: count,
    messages,
    expectedDeliveries: expected,
    delivered: received,
    missing,
    duplicates,
    unexpected,
    outOfOrder,
    subscriberErrors: failed,
    exactlyOnceInOrder: ok,
  };
  if (label === 'fan-out') report.fanout = delivery;
  if (!ok) {
    report.failures.push(
      `${label}: ${received}/${expected} deliveries, ${missing} missing, ${duplicates} duplicate, ` +
        `${unexpected} unexpected, ${outOfOrder} out of order` +
        (failed.length ? `, ${failed.length} subscriber errors (${failed[0]})` : ''),
    );
  }
  return stats;
}
