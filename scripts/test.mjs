// `npm test`: typecheck, lint, unit + integration tests (Vitest, against a real redis-server it
// starts itself), then end-to-end tests (Playwright in Chromium against a production build).
// Stops at the first failing step and exits with its code.
//
//   npm test                      everything
//   npm test -- --only=unit       Vitest only (also: typecheck, lint, e2e; comma-separate several)
//   npm test -- --only=e2e        build + Playwright only
//   npm test -- --skip-e2e        everything but e2e
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ensureChromium, ensureDependencies, ensureRedisServerInstalled, findFreePort, startRedisServer } from './lib/redis-server.mjs';
import { bin, formatDuration, repoRoot, run } from './lib/run.mjs';

const STEP_NAMES = /** @type {const} */ (['typecheck', 'lint', 'unit', 'e2e']);
/** @typedef {typeof STEP_NAMES[number]} StepName */

/**
 * The suites run a second time against a real Redis Cluster (scripts/vitest-global-setup.mjs starts one
 * when PARLEY_TEST_REDIS=cluster): the store, realtime, access, mentions, AI PM, search, durable-tier and
 * cluster-only suites. Those that stop, kill, restart or empty "the" Redis (resilience, failover,
 * recovery, fault injection, ...) start a cluster of their own there and do it to all its nodes at once
 * (src/server/testing/own-redis.ts); one master's failover and resharding are in
 * src/server/redis/cluster.integration.test.ts. Left out: the legacy import's suites (the importer
 * refuses a cluster target: its ledger shares a pipeline with keys of other slots).
 */
const CLUSTER_SUITES = [
  'src/server/chat/store.integration.test.ts',
  'src/server/chat/read-state.integration.test.ts',
  'src/server/chat/layout-upgrade.integration.test.ts',
  'src/server/realtime/events.integration.test.ts',
  'src/server/realtime/log-gaps.integration.test.ts',
  'src/server/realtime/presence.integration.test.ts',
  'src/server/realtime/typing.integration.test.ts',
  'src/server/realtime/restart.integration.test.ts',
  'src/server/trpc/membership.integration.test.ts',
  'src/server/trpc/authz.integration.test.ts',
  'src/server/ai/ai-pm.integration.test.ts',
  'src/server/ai/durable.integration.test.ts',
  'src/server/chat/mentions.integration.test.ts',
  'src/server/chat/resilience.integration.test.ts',
  'src/server/search/redis-search.integration.test.ts',
  'src/server/durable/outbox.integration.test.ts',
  'src/server/durable/failover.integration.test.ts',
  'src/server/durable/recovery.integration.test.ts',
  'src/server/durable/poison.integration.test.ts',
  'src/server/durable/signout.integration.test.ts',
  'src/server/durable/signout-failover.integration.test.ts',
  'src/server/durable/empty-restart.integration.test.ts',
  'src/server/durable/idle-eviction.integration.test.ts',
  'src/server/durable/read-markers.integration.test.ts',
  'src/server/durable/observability.integration.test.ts',
  'src/server/durable/pg-connection-errors.integration.test.ts',
  'src/server/durable/cluster-outbox.integration.test.ts',
  // On a cluster of its own (every node restarted at once).
  'src/server/durable/fault-injection.integration.test.ts',
  'src/server/redis/',
];

const USAGE = 'Usage: npm test [-- --only=typecheck,lint,unit,e2e] [-- --skip-e2e]';

/** @returns {Set<StepName>} */
function selectedSteps() {
  /** @type {Set<StepName>} */
  let steps = new Set(STEP_NAMES);
  for (const arg of process.argv.slice(2)) {
    if (arg === '--skip-e2e') {
      continue; // applied below, whatever the order of the flags
    } else if (arg.startsWith('--only=')) {
      const names = arg.slice('--only='.length).split(',').filter(Boolean);
      const unknown = names.filter((name) => !STEP_NAMES.includes(/** @type {StepName} */ (name)));
      if (names.length === 0 || unknown.length > 0) usageError(`unknown step in ${arg}`);
      steps = new Set(/** @type {StepName[]} */ (names));
    } else {
      usageError(`unknown argument ${arg}`);
    }
  }
  if (process.argv.includes('--skip-e2e')) steps.delete('e2e');
  return steps;
}

/** @param {string} message @returns {never} */
function usageError(message) {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

/**
 * Prints a banner, runs `fn`, prints the outcome with its duration.
 * @param {string} title
 * @param {() => Promise<number>} fn resolves with an exit code
 */
async function step(title, fn) {
  console.log(`\n━━ ${title} ${'━'.repeat(Math.max(3, 72 - title.length))}`);
  const started = performance.now();
  const code = await fn();
  const took = formatDuration(performance.now() - started);
  console.log(code === 0 ? `✔ ${title} (${took})` : `✘ ${title} failed with exit code ${code} (${took})`);
  return code;
}

/** Whether e2e/ holds any `*.spec.ts`, at any depth. */
function hasE2eSpecs() {
  const dir = path.join(repoRoot, 'e2e');
  if (!fs.existsSync(dir)) return false;
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .some((file) => file.endsWith('.spec.ts'));
}

/** Builds the app and runs Playwright against it, with a throwaway Redis. */
async function e2e() {
  if (!hasE2eSpecs()) {
    console.log('\ne2e: no e2e/**/*.spec.ts yet, skipped');
    return 0;
  }
  await ensureChromium();
  const redis = await startRedisServer();
  const control = await startRedisControl(redis);
  try {
    const env = {
      ...process.env,
      REDIS_URL: redis.url,
      PORT: String(await findFreePort()),
      E2E_REDIS_CONTROL_URL: control.url,
      // A second app process with the AI PM on, pointed at the scripted OpenAI-compatible server that
      // e2e/ai-pm.spec.ts starts on E2E_FAKE_AI_PORT (the first app keeps the AI PM off).
      E2E_AI_APP_PORT: String(await findFreePort()),
      E2E_FAKE_AI_PORT: String(await findFreePort()),
    };
    console.log(`\ne2e: Redis ${redis.url} (temp data dir), app port ${env.PORT}, AI PM app port ${env.E2E_AI_APP_PORT}`);
    const built = await step('build: next build', () => run(bin('next'), ['build'], { env }));
    if (built !== 0) return built;
    return await step('e2e: playwright test', () => run(bin('playwright'), ['test'], { env }));
  } finally {
    await control.close();
    await redis.destroy();
  }
}

/**
 * A loopback-only endpoint through which an e2e spec really stops the test Redis and starts it again
 * on the same port and data (POST /stop, POST /start): an outage as users meet it.
 * @param {import('./lib/redis-server.mjs').RedisServerHandle} redis
 */
async function startRedisControl(redis) {
  const server = http.createServer((req, res) => {
    const action =
      req.method === 'POST' && req.url === '/stop'
        ? () => redis.stop()
        : req.method === 'POST' && req.url === '/start'
          ? async () => {
              if (!redis.isRunning()) await redis.restart();
            }
          : null;
    if (!action) {
      res.writeHead(404).end('POST /stop or /start');
      return;
    }
    action().then(
      () => res.writeHead(200).end('ok'),
      (/** @type {unknown} */ err) => res.writeHead(500).end(String(err)),
    );
  });
  const port = await findFreePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

async function main() {
  const steps = selectedSteps();
  await ensureDependencies();
  await ensureRedisServerInstalled();

  const started = performance.now();
  /** @type {Array<[StepName, string, () => Promise<number>]>} */
  const plan = [
    ['typecheck', 'typecheck: tsc --noEmit', () => run(bin('tsc'), ['--noEmit'])],
    ['lint', 'lint: eslint .', () => run(bin('eslint'), ['.'])],
    ['unit', 'unit + integration: vitest run', () => run(bin('vitest'), ['run'])],
    [
      'unit',
      'integration on a Redis Cluster (3 masters + 3 replicas): vitest run',
      () => run(bin('vitest'), ['run', ...CLUSTER_SUITES], { env: { ...process.env, PARLEY_TEST_REDIS: 'cluster' } }),
    ],
  ];
  for (const [name, title, fn] of plan) {
    if (!steps.has(name)) continue;
    const code = await step(title, fn);
    if (code !== 0) return code;
  }
  if (steps.has('e2e')) {
    const code = await e2e();
    if (code !== 0) return code;
  }
  console.log(`\nAll selected checks passed (${[...steps].join(', ')}) in ${formatDuration(performance.now() - started)}.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(/^sudo apt-get install/.test(message) ? `A system package is missing. Run:\n\n  ${message}\n` : error);
    process.exit(1);
  },
);
