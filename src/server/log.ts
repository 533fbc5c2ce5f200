import 'server-only';
import { pino, type Logger } from 'pino';
import { env } from '~/server/env';

/**
 * The server's structured JSON logger (pino). One line per event, machine-readable, with a `component`
 * field set by `logger(name)`.
 *
 * Never log secrets or chat content: no passwords or hashes, no tokens, no connection strings with
 * credentials (log `hostOf(url)`), no message bodies (log ids, counts and seqs). The redact list below
 * is a safety net, not the rule.
 */
const globalForLog = globalThis as unknown as { parleyLog?: Logger };

function createRootLogger(): Logger {
  return pino({
    level: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'warn' : 'info'),
    base: { service: 'parley' },
    redact: {
      paths: ['password', 'passwordHash', 'token', 'content', '*.password', '*.passwordHash', '*.token', '*.content'],
      censor: '[redacted]',
    },
  });
}

export function logger(component: string): Logger {
  globalForLog.parleyLog ??= createRootLogger();
  return globalForLog.parleyLog.child({ component });
}

/** `host:port` of a connection URL: what a log line may say about where it connects (no credentials). */
export function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname}:${u.port}` : u.hostname;
  } catch {
    return '(invalid url)';
  }
}

/** An error's name and message, for a log line (stack only for programming errors). */
export function errorFields(err: unknown): { error: { type: string; message: string; code?: string } } {
  if (err instanceof Error) {
    // The root cause says more than a wrapper ("unavailable" because of ECONNREFUSED).
    const root = err.cause instanceof Error ? err.cause : err;
    const code = (root as { code?: unknown }).code ?? (err as { code?: unknown }).code;
    return {
      error: { type: root.name, message: root.message, ...(typeof code === 'string' ? { code } : {}) },
    };
  }
  return { error: { type: typeof err, message: String(err) } };
}
