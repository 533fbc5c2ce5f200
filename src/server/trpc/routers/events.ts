import 'server-only';
import { tracked, TRPCError } from '@trpc/server';
import { hashToken } from '~/server/auth/service';
import { AppError, toAppError } from '~/server/errors';
import { projectEvents } from '~/server/realtime/subscription';
import { keys } from '~/server/redis/keys';
import { eventsSubscribeInput } from '~/shared/schemas';
import { projectProcedure, router } from '../init';
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
    .subscription(async function* ({ ctx, input, signal }) {
      const ended = new AbortController();
      const endWith = (reason: TRPCError) => () => ended.abort(reason);
      const onClientGone = () => ended.abort();
      signal?.addEventListener('abort', onClientGone, { once: true });
      let stopWatching = () => {};
      try {
        const token = ctx.sessionToken!;
        stopWatching = await ctx.hub.watchLogin(
          hashToken(token),
          endWith(new TRPCError({ code: 'UNAUTHORIZED', message: 'Signed out' })),
        );
        // Signed out between the login check and the watch: nothing would ever tell us.
        if (!(await ctx.auth.userForToken(token))) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Signed out' });
        for await (const { id, event } of projectEvents({
          redis: ctx.redis,
          hub: ctx.hub,
          projectId: input.projectId,
          lastEventId: input.lastEventId,
          signal: ended.signal,
          // This user's own signals (read markers) ride on their streams only.
          // and the project's ephemeral signals (typing) on every member's.
          signalChannels: [keys.userSignals(ctx.user.id), keys.projectSignals(input.projectId)],
        })) {
          yield tracked(id, event);
          // Left the project: the stream ends here. The tab reconnects (after a short backoff, so the
          // tab that left has navigated away by then) and is refused NOT_FOUND like any non-member.
          if (event.type === 'member.removed' && event.member.id === ctx.user.id) return;
        }
        if (ended.signal.reason instanceof TRPCError) throw ended.signal.reason;
      } catch (err) {
        // The generator runs after the procedure returned, beyond the error-mapping middleware.
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
    }),
});
