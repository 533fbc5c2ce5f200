/**
 * The one place that calls initTRPC. It exports only the builders the app may use (router,
 * publicProcedure, authedProcedure, projectProcedure, createCallerFactory), never the `t` object, so
 * every procedure goes through the same error mapping, auth and membership checks.
 */
import 'server-only';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { readSessionToken } from '~/server/auth/cookie';
import { clientIpOf } from '~/server/client-ip';
import { env } from '~/server/env';
import type { AuthedUser } from '~/server/auth/service';
import { getServices, type Services } from '~/server/context';
import { AppError, projectNotFound, toAppError, type AppErrorCode } from '~/server/errors';
import { logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import { projectIdInput } from '~/shared/schemas';

export interface Context extends Services {
  /** The login session token from the cookie, if any (not yet checked). */
  sessionToken: string | null;
  /**
   * The client's IP address (see clientIpOf: proxy headers are trusted only as far as TRUST_PROXY
   * says). null for in-process callers (tests), which per-IP limits then leave alone.
   */
  clientIp: string | null;
  /** Adds a Set-Cookie header to the response (sign-in and sign-out). */
  setCookie: (cookie: string) => void;
  /** Sets a response header (Retry-After). */
  setHeader: (name: string, value: string) => void;
}

/** The test-friendly part: no HTTP, just services and a token. */
export function createContextInner(opts: {
  services: Services;
  sessionToken?: string | null;
  clientIp?: string | null;
  setCookie?: (cookie: string) => void;
  setHeader?: (name: string, value: string) => void;
}): Context {
  return {
    ...opts.services,
    sessionToken: opts.sessionToken ?? null,
    clientIp: opts.clientIp ?? null,
    setCookie: opts.setCookie ?? (() => undefined),
    setHeader: opts.setHeader ?? (() => undefined),
  };
}

/** The request part: the fetch adapter passes its Request, the Node SSE path (http/node-sse.ts) the headers. */
export function createContext(opts: { req: { headers: Headers }; resHeaders: Headers }): Context {
  return createContextInner({
    services: getServices(),
    sessionToken: readSessionToken(opts.req.headers.get('cookie')),
    clientIp: clientIpOf(opts.req.headers, env.TRUST_PROXY),
    setCookie: (cookie) => opts.resHeaders.append('Set-Cookie', cookie),
    setHeader: (name, value) => opts.resHeaders.set(name, value),
  });
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    // Internal failures keep their detail in the server log, users get a plain message (no stacks).
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      return { ...shape, message: 'Something went wrong on our side', data: { ...shape.data, stack: undefined } };
    }
    const zodIssues = error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null;
    // Over an abuse limit: when to retry, also for a call inside a batch (one Retry-After per response).
    const retryAfter = error.cause instanceof AppError ? (error.cause.retryAfterSeconds ?? null) : null;
    return { ...shape, data: { ...shape.data, stack: undefined, zodError: zodIssues, retryAfter } };
  },
  sse: {
    // A comment line every 10 s keeps proxies from closing an idle stream; the client reconnects
    // (resuming from its last event id) when it hears nothing for 25 s.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 25_000 },
  },
});

const TRPC_CODE: Record<AppErrorCode, TRPCError['code']> = {
  NOT_FOUND: 'NOT_FOUND',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  BAD_REQUEST: 'BAD_REQUEST',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

const log = logger('trpc');

/**
 * Latency per procedure, with the outcome (ok or the tRPC error code) as a label. Outermost, so it
 * sees the code after error mapping. For a subscription it times the setup, not the stream.
 */
const measure = t.middleware(async ({ next, path, type }) => {
  const end = metrics().requestDuration.startTimer({ procedure: path, type });
  const result = await next();
  end({ outcome: result.ok ? 'ok' : result.error.code });
  return result;
});

/** Domain errors become tRPC errors here, once, keeping the original as `cause`. */
const mapErrors = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (!result.ok) {
    if (result.error.cause instanceof z.ZodError) {
      // zod's own message is a JSON dump of its issues; say it the way a person would.
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: describeIssues(result.error.cause),
        cause: result.error.cause,
      });
    }
    const cause = toAppError(result.error.cause ?? result.error);
    if (cause instanceof AppError) {
      if (cause.retryAfterSeconds !== undefined) ctx.setHeader('Retry-After', String(cause.retryAfterSeconds));
      throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
    }
    if (result.error.code === 'INTERNAL_SERVER_ERROR') {
      // pino's error serializer keeps type, message and stack (never inputs or message bodies).
      log.error({ procedure: path, err: result.error.cause ?? result.error }, 'procedure failed');
    }
  }
  return result;
});

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

export const router = t.router;
/** For the middlewares of ./limits.ts (the one other module that defines middlewares). */
export const middleware = t.middleware;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(measure).use(mapErrors);

/** Resolves the login session; narrows the context to a signed-in user. */
function isAuthed() {
  return t.middleware(async ({ ctx, next }) => {
    const user: AuthedUser | null = ctx.sessionToken ? await ctx.auth.userForToken(ctx.sessionToken) : null;
    if (!user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Please sign in' });
    return next({ ctx: { ...ctx, user } });
  });
}

export const authedProcedure = publicProcedure.use(isAuthed());

/**
 * Every procedure that names a project. A non-member gets NOT_FOUND, exactly like a project that does
 * not exist, so ids cannot be probed. Subscriptions go through it too.
 */
export const projectProcedure = authedProcedure
  .input(projectIdInput)
  .use(async ({ ctx, input, next }) => {
    if (!(await ctx.store.isMember(input.projectId, ctx.user.id))) throw projectNotFound();
    return next();
  });
