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
    .mutation(({ ctx, input }): Promise<SessionDTO> => ctx.store.updateSession(input)),
});
