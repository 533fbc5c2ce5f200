import path from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

export default defineConfig({
  resolve: {
    alias: [
      // Same alias as tsconfig `paths` (`~/*` -> `src/*`).
      { find: /^~\//, replacement: `${path.join(root, 'src')}/` },
      // `server-only` throws outside a React Server Components bundle; in tests it is a no-op so
      // server modules can be imported directly.
      { find: /^server-only$/, replacement: path.join(root, 'scripts/lib/empty-module.mjs') },
    ],
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
    // One real redis-server for the run; its URL is `inject('redisUrl')` / process.env.REDIS_URL.
    globalSetup: ['./scripts/vitest-global-setup.mjs'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One test file at a time: the machine has 2 cores, and some tests kill and restart Redis.
    fileParallelism: false,
  },
});
