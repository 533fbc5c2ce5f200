import 'server-only';
import type { UnreadMentions } from '~/server/chat/read-state';
import { toAppError } from '~/server/errors';
import { publishOn } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { sessionCreateInput, sessionMarkReadInput, sessionRefInput, sessionTypingInput, sessionUpdateInput } from '~/shared/schemas';
import type { ChatEvent, SessionDTO } from '~/shared/types';
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

  /**
   * The caller has seen the session up to `seq` (capped at its last message). Monotonic: an older
   * seq (a late request from another tab) changes nothing. The caller's other tabs learn it live.
   */
  markRead: projectProcedure
    .input(sessionMarkReadInput)
    .mutation(async ({ ctx, input }): Promise<{ sessionId: string; lastRead: number }> => {
      const session = await ctx.store.getSession(input.projectId, input.sessionId);
      const lastRead = await ctx.reads.markRead({
        ...input,
        userId: ctx.user.id,
        knownLastSeq: session.messageCount,
      });
      return { sessionId: input.sessionId, lastRead };
    }),

  /**
   * Ephemeral: tells the project's open streams that the caller started or stopped typing. Pub/sub
   * only - never the event log, so typing can never trim real events out of it. Rate-limited like
   * other changes; the client sends at most one start per TYPING.startedWaitMs.
   */
  typing: projectProcedure
    .input(sessionTypingInput)
    .use(rateLimit('change'))
    .mutation(async ({ ctx, input }): Promise<{ ok: true }> => {
      const event: ChatEvent = {
        type: 'typing',
        projectId: input.projectId,
        sessionId: input.sessionId,
        userId: ctx.user.id,
        username: ctx.user.username,
        typing: input.typing,
      };
      try {
        await publishOn(ctx.redis, keys.projectSignals(input.projectId), JSON.stringify(event));
      } catch (err) {
        throw toAppError(err);
      }
      return { ok: true };
    }),

  /**
   * The caller's unread mentions: session id -> the seqs (after the caller's marker, oldest first, at
   * most 100) of messages that mention the caller. Sessions with none are absent.
   */
  mentions: projectProcedure.query(
    ({ ctx, input }): Promise<UnreadMentions> => ctx.reads.mentions(input.projectId, ctx.user.id),
  ),

  /** The caller's read markers: session id -> last-read seq (absent: nothing read). */
  readMarkers: projectProcedure.query(
    ({ ctx, input }): Promise<Record<string, number>> => ctx.reads.markers(input.projectId, ctx.user.id),
  ),
});
