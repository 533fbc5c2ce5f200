// End-to-end tests: real Chromium (Debian's, at /usr/bin/chromium - Playwright cannot download
// browsers here), real Redis, production build. `npm test` (scripts/test.mjs) builds the app, starts
// a throwaway Redis and sets REDIS_URL and PORT; to run Playwright by hand, do the same.
import { defineConfig } from '@playwright/test';
import { SERVER_NODE_FLAGS } from './scripts/lib/app-launcher.mjs';

const PORT = Number(process.env.PORT ?? 3100);
const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) {
  throw new Error(
    'playwright.config.ts: REDIS_URL is not set. Run the e2e tests with `npm run test:e2e` ' +
      '(it starts Redis and builds the app), or set REDIS_URL to a Redis you can spare.',
  );
}
const baseURL = `http://localhost:${PORT}`;
// The AI PM specs run against a second app process with the AI PM on, whose model server is the
// scripted fake the spec itself starts (scripts/test.mjs picks both ports).
const AI_APP_PORT = process.env.E2E_AI_APP_PORT;
const FAKE_AI_PORT = process.env.E2E_FAKE_AI_PORT;

export default defineConfig({
  testDir: 'e2e',
  // One app, one Redis, a 2-core machine: run specs one after another.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: 'list',
  use: {
    baseURL,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
  webServer: [
    {
      // The production server, as `npm start` runs it (/api/trpc on Node, the rest through Next).
      command: `node ${SERVER_NODE_FLAGS.join(' ')} scripts/server.mjs -p ${PORT}`,
      // Ready means the app answers and reaches Redis, not merely that the port is open.
      url: `${baseURL}/api/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      // Let open SSE streams and Redis connections close instead of being SIGKILLed.
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
      env: { REDIS_URL, PORT: String(PORT) },
    },
    ...(AI_APP_PORT && FAKE_AI_PORT
      ? [
          {
            command: `node scripts/server.mjs -p ${AI_APP_PORT}`,
            url: `http://localhost:${AI_APP_PORT}/api/health`,
            reuseExistingServer: false,
            timeout: 120_000,
            gracefulShutdown: { signal: 'SIGTERM' as const, timeout: 5_000 },
            env: {
              REDIS_URL,
              PORT: AI_APP_PORT,
              AI_BASE_URL: `http://127.0.0.1:${FAKE_AI_PORT}/v1`,
              AI_MODEL: 'fake-pm',
              AI_MAX_RETRIES: '0',
              AI_CLAIM_IDLE_MS: '5000',
            },
          },
        ]
      : []),
  ],
});
