import 'server-only';
import { sessionCreateInput, sessionRefInput, sessionUpdateInput } from '~/shared/schemas';
import type { SessionDTO } from '~/shared/types';
import { projectProcedure, router } from '../init';
import { rateLimit } from '../limits';

export const sessionRouter = router({
  /** Most recent activity first. */
  list: projectProcedure.query(({ ctx, input }): Promise<SessionDTO[]> => ctx.store.listSessions(input.projectId)),

  create: projectProcedure
    .input(sessionCreateInput)
    .use(rateLimit('sessionCreate'))
    .mutation(({ ctx, input }): Promise<SessionDTO> =>
      ctx.store.createSession({ ...input, createdBy: ctx.user.id }),
    ),

  get: projectProcedure
    .input(sessionRefInput)
    .query(({ ctx, input }): Promise<SessionDTO> => ctx.store.getSession(input.projectId, input.sessionId)),

  update: projectProcedure
    .input(sessionUpdateInput)
    .mutation(async ({ ctx, input }): Promise<SessionDTO> => {
      const { aiPm, ...rest } = input;
      if (aiPm === undefined) return ctx.store.updateSession(rest);
      // The mode lives in the session's metadata (persisted with it, read by the append script).
      const current = await ctx.store.getSession(input.projectId, input.sessionId);
      return ctx.store.updateSession({ ...rest, metadata: { ...current.metadata, aiPm } });
    }),
});
