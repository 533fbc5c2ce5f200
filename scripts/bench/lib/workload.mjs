// What the bench sends (deterministic message text) and small timing helpers.
import { performance } from 'node:perf_hooks';
import { prng } from '../../lib/prng.mjs';

export const now = () => performance.now();

/**
 * Waits for `promise` at most `ms`; resolves true if it settled in time (rejections propagate).
 * @param {Promise<unknown>} promise @param {number} ms
 */
export async function within(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const random = prng(0x9a71e7);
export const randInt = (/** @type {number} */ lo, /** @type {number} */ hi) => lo + Math.floor(random() * (hi - lo + 1));

const WORDS = (
  'the sprint plan needs a review before friday so we can ship the api changes and update the ' +
  'roadmap with risks owners estimates blockers design tokens login flow redis latency dashboard ' +
  'customer feedback migration rollout staging checklist budget deadline scope meeting notes bug ' +
  'priority release candidate onboarding metrics analytics backlog refinement story points velocity'
).split(' ');

/** A realistic chat message of 80-300 characters. */
export function messageContent() {
  const length = randInt(80, 300);
  let text = '';
  while (text.length < length) text += (text ? ' ' : '') + WORDS[randInt(0, WORDS.length - 1)];
  return text.slice(0, length).trimEnd() + '.';
}


/**
 * Runs `count` calls of `call`, `concurrency` at a time (each worker starts its next call when its last
 * one ends); returns every call's latency (ms) and the wall time of the whole wave.
 * @param {number} count @param {number} concurrency @param {() => Promise<unknown>} call
 */
export async function concurrently(count, concurrency, call) {
  /** @type {number[]} */
  const samples = [];
  let issued = 0;
  const worker = async () => {
    while (issued < count) {
      issued++;
      const t0 = now();
      await call();
      samples.push(now() - t0);
    }
  };
  const t0 = now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, wallMs: now() - t0 };
}
