// Bench phase (issue 10): does the typing/presence traffic of 100 members slow message.send down?
//
// 100 members typing (a start every 10 s while typing, a stop after 5 s: Zulip's intervals) and
// heartbeating (every 20 s) make about 25 signals/s. This phase makes ten times that: 250 signals/s
// published on the project's ephemeral channel (what session.typing and project.heartbeat publish),
// fanned out by the app's hub to open SSE streams, plus the 25 HTTP calls/s of the real procedures
// (session.typing, project.heartbeat: zod, auth, membership, rate-limit counter and their Lua/PUBLISH).
// c=N sends are measured in waves, quiet and busy alternating over several rounds (the order flips
// every round), so drift in what else the machine does hits both sides alike.
//
// Used by scripts/bench/signals.mjs, which passes in its HTTP clients and helpers (this module starts nothing).
import { randomUUID } from 'node:crypto';

/** 250 pub/sub signals per second: 25 every 100 ms, spread over 100 member ids. */
const SIGNALS_PER_TICK = 25;
const TICK_MS = 100;
/** HTTP typing/heartbeat calls per tick (25/s: the real rate of 100 members). */
const CALLS_PER_TICK = 2.5;

/**
 * @param {{
 *   api: { mutation(proc: string, input: unknown): Promise<any> },
 *   pool: { mutation(proc: string, input: unknown): Promise<any> },
 *   projectId: string,
 *   sessionId: string,
 *   publisher: { publish(channel: string, message: string): Promise<unknown> },
 *   signalChannel: string,
 *   openStreams: () => Promise<() => void>,
 *   messageContent: () => string,
 *   now: () => number,
 *   concurrency: number,
 *   wave: number,
 *   rounds: number,
 * }} opts
 * @returns {Promise<{ quiet: number[], busy: number[], quietWall: number, busyWall: number, published: number, calls: number, rounds: Array<{ quietPerSec: number, busyPerSec: number }> }>}
 */
export async function benchTyping(opts) {
  const { api, pool, projectId, sessionId, publisher, signalChannel, now, concurrency, wave } = opts;
  const closeStreams = await opts.openStreams();
  let published = 0;
  let calls = 0;
  let callDebt = 0;
  /** @type {Error | null} */
  let callError = null;
  /** @type {NodeJS.Timeout | null} */
  let timer = null;

  const startTraffic = () => {
    timer = setInterval(() => {
      for (let i = 0; i < SIGNALS_PER_TICK; i++) {
        const member = (published + i) % 100;
        const event =
          member % 3 === 0
            ? { type: 'presence', projectId, userId: `member-${member}`, state: 'active', until: Date.now() + 50_000 }
            : { type: 'typing', projectId, sessionId, userId: `member-${member}`, username: `member${member}`, typing: member % 2 === 0 };
        void publisher.publish(signalChannel, JSON.stringify(event));
      }
      published += SIGNALS_PER_TICK;
      callDebt += CALLS_PER_TICK;
      for (; callDebt >= 1; callDebt--) {
        const call =
          calls % 4 === 0
            ? api.mutation('project.heartbeat', { projectId, state: 'active' })
            : api.mutation('session.typing', { projectId, sessionId, typing: calls % 2 === 0 });
        calls++;
        call.catch((/** @type {Error} */ err) => {
          callError ??= err;
        });
      }
    }, TICK_MS);
  };
  const stopTraffic = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };

  /** One wave of `wave` sends at `concurrency`; returns its wall time (ms). */
  const runWave = async (/** @type {number[]} */ samples) => {
    let next = 0;
    const worker = async () => {
      while (next < wave) {
        next++;
        const t0 = now();
        await pool.mutation('message.send', { projectId, sessionId, id: randomUUID(), content: opts.messageContent() });
        samples.push(now() - t0);
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return now() - t0;
  };

  const quiet = [];
  const busy = [];
  let quietWall = 0;
  let busyWall = 0;
  const rounds = [];
  try {
    await runWave([]); // warm-up
    for (let round = 0; round < opts.rounds; round++) {
      const quietFirst = round % 2 === 0;
      let q = 0;
      let b = 0;
      for (const side of quietFirst ? ['quiet', 'busy'] : ['busy', 'quiet']) {
        if (side === 'quiet') {
          q = await runWave(quiet);
        } else {
          startTraffic();
          try {
            b = await runWave(busy);
          } finally {
            stopTraffic();
          }
        }
      }
      quietWall += q;
      busyWall += b;
      rounds.push({ quietPerSec: Math.round((wave / q) * 1000), busyPerSec: Math.round((wave / b) * 1000) });
    }
  } finally {
    stopTraffic();
    closeStreams();
  }
  if (callError) throw new Error(`typing/heartbeat traffic: ${callError.message}`);
  return { quiet, busy, quietWall, busyWall, published, calls, rounds };
}
