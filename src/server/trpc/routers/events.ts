import 'server-only';
import { tracked, TRPCError } from '@trpc/server';
import { hashToken } from '~/server/auth/service';
import { AppError, toAppError } from '~/server/errors';
import { projectEvents } from '~/server/realtime/subscription';
import { unreadFeed } from '~/server/realtime/unread-feed';
import { keys } from '~/server/redis/keys';
import { eventsSubscribeInput } from '~/shared/schemas';
import { authedProcedure, projectProcedure, router, type Context } from '../init';
import { streamSlot } from '../limits';

export const eventsRouter = router({
  /**
   * The project's live event log over SSE. Each event is tracked by its log id, so a reconnecting
   * client resumes from the last one it saw (httpSubscriptionLink sends it back as `lastEventId`).
   *
   * A stream holds one of the user's stream slots (streamSlot) and ends when its login is signed out
   * (in any process; UNAUTHORIZED) or its user leaves the project (the stream completes; a reconnect is
   * NOT_FOUND): access ends with the login or the membership, not with the connection.
   */
  subscribe: projectProcedure
    .input(eventsSubscribeInput)
    .use(streamSlot())
    .subscription(({ ctx, input, signal }) =>
      guardedStream(ctx, signal, async function* (ended) {
        for await (const { id, event } of projectEvents({
          redis: ctx.redis,
          hub: ctx.hub,
          projectId: input.projectId,
          lastEventId: input.lastEventId,
          signal: ended,
          // This user's own signals (read markers) ride on their streams only.
          // and the project's ephemeral signals (typing) on every member's.
          signalChannels: [keys.userSignals(ctx.user.id), keys.projectSignals(input.projectId)],
        })) {
          yield tracked(id, event);
          // Left the project: the stream ends here. The tab reconnects (after a short backoff, so the
          // tab that left has navigated away by then) and is refused NOT_FOUND like any non-member.
          if (event.type === 'member.removed' && event.member.id === ctx.user.id) return;
        }
      }),
    ),

  /**
   * The caller's unread totals per project (as project.unreadTotals), live: ONE stream for the home
   * page, whatever the number of projects (src/server/realtime/unread-feed.ts). Holds a stream slot
   * and ends with the login, like `subscribe`.
   */
  unread: authedProcedure.use(streamSlot()).subscription(({ ctx, signal }) =>
    guardedStream(ctx, signal, async function* (ended) {
      const projects = await ctx.store.listProjectsFor(ctx.user.id);
      yield* unreadFeed({
        hub: ctx.hub,
        readState: ctx.reads,
        userId: ctx.user.id,
        projectIds: projects.map((p) => p.id),
        signal: ended,
      });
    }),
  ),
});

/**
 * A stream's life around its body: it holds one of the user's stream slots (streamSlot) until it ends,
 * ends when the client goes or the login is signed out (in any process; UNAUTHORIZED), and maps Redis
 * being down to SERVICE_UNAVAILABLE (the generator runs after the procedure returned, beyond the
 * error-mapping middleware). `body` gets the signal that ends it.
 */
async function* guardedStream<T>(
  ctx: Context & { releaseStreamSlot: () => void },
  signal: AbortSignal | undefined,
  body: (ended: AbortSignal) => AsyncGenerator<T>,
): AsyncGenerator<T> {
  const ended = new AbortController();
  const onClientGone = () => ended.abort();
  signal?.addEventListener('abort', onClientGone, { once: true });
  // Gone while the middlewares were still checking: a listener added now would never be called.
  if (signal?.aborted) ended.abort();
  let stopWatching = () => {};
  try {
    stopWatching = await watchSignOut(ctx, ended);
    yield* body(ended.signal);
    if (ended.signal.reason instanceof TRPCError) throw ended.signal.reason;
  } catch (err) {
    const mapped = toAppError(err);
    if (mapped instanceof AppError && mapped.code === 'UNAVAILABLE') {
      throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: mapped.message, cause: mapped });
    }
    throw err;
  } finally {
    stopWatching();
    signal?.removeEventListener('abort', onClientGone);
    ctx.releaseStreamSlot();
  }
}

/**
 * Ends a stream (aborting `ended` with UNAUTHORIZED) when its login is signed out in any process.
 * Resolves once watching; returns the stop.
 */
async function watchSignOut(ctx: Context, ended: AbortController): Promise<() => void> {
  const token = ctx.sessionToken!;
  const stop = await ctx.hub.watchLogin(hashToken(token), () =>
    ended.abort(new TRPCError({ code: 'UNAUTHORIZED', message: 'Signed out' })),
  );
  // Signed out between the login check and the watch: nothing would ever tell us.
  if (!(await ctx.auth.userForToken(token))) {
    stop();
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Signed out' });
  }
  return stop;
}
