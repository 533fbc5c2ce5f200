// The bench's command line, its sizes (full and --quick) and the targets it checks.
import { LIMITS } from '../../../src/shared/limits.ts';

export const USAGE = 'Usage: npm run bench [-- --quick] [-- --json] [-- --build] [-- --ai-only] [-- --only=<phase>,...] [-- --cluster]';
const argv = process.argv.slice(2);
for (const arg of argv) {
  if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  }
  if (!['--quick', '--json', '--build', '--ai-only', '--cluster'].includes(arg) && !arg.startsWith('--only=')) {
    console.error(`Unknown argument: ${arg}\n${USAGE}`);
    process.exit(2);
  }
}
export const QUICK = argv.includes('--quick');
export const JSON_OUT = argv.includes('--json');
export const FORCE_BUILD = argv.includes('--build');
export const AI_ONLY = argv.includes('--ai-only');
/** --cluster: only the scale-out comparison (scripts/bench/cluster.mjs), which starts its own servers. */
export const CLUSTER_ONLY = argv.includes('--cluster');
/** --only=<phase>,...: just these phases of scripts/bench/index.mjs's PHASES (after the setup); null = all. */
export const ONLY = ((arg) => (arg ? new Set(arg.slice('--only='.length).split(',')) : null))(argv.find((a) => a.startsWith('--only=')));

// In --json mode stdout carries the JSON document only; progress and any library chatter go to stderr.
if (JSON_OUT) console.log = (...args) => console.error(...args);
export const progress = (/** @type {string} */ line) => console.error(line);

export const SIZES = QUICK
  ? {
      baseline: { warmup: 100, n: 1000 },
      sendC1: { warmup: 50, n: 300 },
      sendC32: { warmup: 100, n: 2000, concurrency: 32 },
      listSessionMin: 1000,
      saveWarmup: 50,
      pages: { warmup: 20, n: 200 },
      fanout: { subscribers: 100, messages: 50, gapMs: 10 },
      memory: { messages: 5000 },
      durable: { messages: 1000, concurrency: 32, failoverSeconds: 3 },
      ai: { generations: 20, tokens: 40, tokenMs: 20 },
      requestPath: { warmup: 200, n: 1000, concurrency: 32 },
    }
  : {
      baseline: { warmup: 200, n: 3000 },
      sendC1: { warmup: 200, n: 2000 },
      sendC32: { warmup: 500, n: 10_000, concurrency: 32 },
      listSessionMin: 1000,
      saveWarmup: 200,
      pages: { warmup: 100, n: 1000 },
      fanout: { subscribers: 100, messages: 300, gapMs: 10 },
      memory: { messages: 20_000 },
      durable: { messages: 5000, concurrency: 32, failoverSeconds: 5 },
      ai: { generations: 20, tokens: 100, tokenMs: 20 },
      requestPath: { warmup: 500, n: 4000, concurrency: 32 },
    };
/** Messages per page (the app's default page size). */
export const PAGE = 50;
/** LIMITS.projectRecentMax: the recent list's cap, an argument of the append script. */
export const PROJECT_RECENT_MAX = LIMITS.projectRecentMax;

export const TARGETS = {
  sendP50Ms: 2,
  sendP99Ms: 15,
  sendsPerSecC32: 2000,
  pageSpeedup: 2,
  fanoutP99Ms: 50,
  memoryRatio: 0.5,
  /** The first ai_pm token in a tab, after the model sent it (p50). */
  aiFirstTokenOverheadMs: 50,
  /** The app's CPU per streamed token. */
  aiCpuMsPerToken: 0.05,
};
