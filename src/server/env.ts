/**
 * The one reader of process.env. Everything else imports `env` from here, so a bad environment fails
 * at start (next.config.ts imports this module) instead of at the first request.
 *
 * Deliberately not `import 'server-only'`: next.config.ts loads it outside the React server graph.
 * Client code must still never import it (it is under src/server/).
 */
import { z } from 'zod';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6390'),
  /** Milliseconds a Redis command may take before the request fails with SERVICE_UNAVAILABLE. */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1500),
  /** Approximate number of events kept per project log; older ones make a reconnecting tab resync. */
  EVENT_LOG_MAXLEN: z.coerce.number().int().min(10).max(10_000_000).default(10_000),
  PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
  /** Set to serve the session cookie with the Secure flag (behind HTTPS). */
  COOKIE_SECURE: z.stringbool().default(false),
  DATABASE_URL: z.url().optional(),
});

export type Env = z.infer<typeof envSchema>;

function parseEnv(): Env {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    throw new Error(`Invalid environment:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

export const env: Env = parseEnv();
