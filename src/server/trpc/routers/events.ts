import 'server-only';
import { tracked, TRPCError } from '@trpc/server';
import { AppError, toAppError } from '~/server/errors';
import { projectEvents } from '~/server/realtime/subscription';
import { eventsSubscribeInput } from '~/shared/schemas';
import { projectProcedure, router } from '../init';

export const eventsRouter = router({
  /**
   * The project's live event log over SSE. Each event is tracked by its log id, so a reconnecting
   * client resumes from the last one it saw (httpSubscriptionLink sends it back as `lastEventId`).
   */
  subscribe: projectProcedure.input(eventsSubscribeInput).subscription(async function* ({ ctx, input, signal }) {
    try {
      for await (const { id, event } of projectEvents({
        redis: ctx.redis,
        hub: ctx.hub,
        projectId: input.projectId,
        lastEventId: input.lastEventId,
        signal,
      })) {
        yield tracked(id, event);
      }
    } catch (err) {
      // The generator runs after the procedure returned, beyond the error-mapping middleware.
      const mapped = toAppError(err);
      if (mapped instanceof AppError && mapped.code === 'UNAVAILABLE') {
        throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: mapped.message, cause: mapped });
      }
      throw err;
    }
  }),
});
