// Types of the values scripts/vitest-global-setup.mjs hands to tests via `inject(...)`.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the redis-server started for this test run, e.g. `redis://127.0.0.1:41234`. */
    redisUrl: string;
  }
}
