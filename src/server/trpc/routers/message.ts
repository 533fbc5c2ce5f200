import 'server-only';
import { retryAnswer, stopGeneration, verifyAnswer } from '~/server/ai/control';
import type { StoredMessage } from '~/server/chat/codec';
import { AppError } from '~/server/errors';
import type { AuthedUser } from '~/server/auth/service';
import { messageEditInput, messageListInput, messageReactInput, messageRefInput, messageSendInput } from '~/shared/schemas';
import { LIMITS } from '~/shared/limits';
import type { MessageDTO, MessagePage } from '~/shared/types';
import { searchMessages } from '~/server/search/service';
import { messageSearchInput, type SearchPageDTO } from '~/shared/search';
import { authedProcedure, projectProcedure, router } from '../init';
import { rateLimit } from '../limits';

export const messageRouter = router({
  /** Newest page first; `cursor` is the seq to read below (the previous page's `nextCursor`). */
  list: projectProcedure
    .input(messageListInput)
    .query(({ ctx, input }): Promise<MessagePage> => ctx.store.listMessages(input)),

  /** Idempotent by `id`: a repeat returns the stored message and changes nothing. */
  send: projectProcedure.input(messageSendInput).use(rateLimit('send')).mutation(async ({ ctx, input }): Promise<MessageDTO> => {
    // Own messages are never unread: writing in a session reads it up to there (as Slack and Zulip
    // do), so the append moves the author's read marker in the same script (`readBy`). A send kept in
    // PostgreSQL while Redis is down moves no marker (its seq is not final); the next markRead does.
    const { message } = await ctx.store.appendMessage({ ...input, author: ctx.user, readBy: ctx.user.id });
    return message;
  }),

  /** The author edits their message's text; everyone sees `message.updated` with the "edited" mark. */
  edit: projectProcedure.input(messageEditInput).use(rateLimit('change')).mutation(({ ctx, input }): Promise<MessageDTO> =>
    ctx.store.changeMessage(input, 'message.updated', (m) => {
      assertEditable(m, ctx.user);
      return m.content === input.content ? m : { ...m, content: input.content, isEdited: true };
    }),
  ),

  /**
   * The author deletes their message, or the project owner any message (moderation): a tombstone
   * keeps its place (seq) but not its text.
   */
  delete: projectProcedure.input(messageRefInput).use(rateLimit('change')).mutation(async ({ ctx, input }): Promise<MessageDTO> => {
    // Read before the change: ownership never moves, so a check outside the script cannot go stale.
    const { project } = await ctx.store.getProject(input.projectId);
    return ctx.store.changeMessage(input, 'message.deleted', (m) => {
      assertEditable(m, ctx.user, project.ownerId === ctx.user.id);
      const { reactions: _r, metadata: _m, aiResponse: _a, ...rest } = m;
      return { ...rest, content: '', deleted: true };
    });
  }),

  /**
   * Full-text search in one project or (no projectId) all of the caller's projects; members only.
   * Not a projectProcedure because projectId is optional: searchMessages checks membership itself.
   */
  search: authedProcedure
    .input(messageSearchInput)
    .use(rateLimit('search'))
    .query(({ ctx, input }): Promise<SearchPageDTO> => searchMessages(ctx, ctx.user, input)),

  /** Toggles the caller's reaction with this emoji. */
  react: projectProcedure.input(messageReactInput).use(rateLimit('change')).mutation(({ ctx, input }): Promise<MessageDTO> =>
    ctx.store.changeMessage(input, 'message.updated', (m) => {
      if (m.deleted) throw new AppError('BAD_REQUEST', 'The message was deleted');
      const reactions = m.reactions ?? [];
      const mine = (r: { emoji: string; userId: string }) => r.emoji === input.emoji && r.userId === ctx.user.id;
      if (reactions.some(mine)) {
        const kept = reactions.filter((r) => !mine(r));
        const { reactions: _old, ...rest } = m;
        return kept.length > 0 ? { ...rest, reactions: kept } : rest;
      }
      // Adding: bounded per user and in distinct emoji, so a message's reactions stay small.
      if (reactions.filter((r) => r.userId === ctx.user.id).length >= LIMITS.reactionsPerUserPerMessage) {
        throw new AppError('BAD_REQUEST', `You can add at most ${LIMITS.reactionsPerUserPerMessage} reactions to one message`);
      }
      const distinct = new Set(reactions.map((r) => r.emoji));
      if (!distinct.has(input.emoji) && distinct.size >= LIMITS.distinctReactionsPerMessage) {
        throw new AppError('BAD_REQUEST', `A message can have at most ${LIMITS.distinctReactionsPerMessage} different reactions`);
      }
      const next = [...reactions, { emoji: input.emoji, userId: ctx.user.id }];
      return { ...m, reactions: next };
    }),
  ),

  /** Stops the AI PM's answer being written (`id`: the answer); its partial text stays, marked stopped. */
  stopGeneration: projectProcedure
    .input(messageRefInput)
    .use(rateLimit('change'))
    .mutation(({ ctx, input }): Promise<MessageDTO> => stopGeneration(ctx, input)),

  /** Regenerates a failed AI PM answer in place (the same message). */
  retry: projectProcedure
    .input(messageRefInput)
    .use(rateLimit('change'))
    .mutation(({ ctx, input }): Promise<MessageDTO> => retryAnswer(ctx, input)),

  /** Marks an AI PM answer verified by the caller ("Verified by <name>"). */
  verify: projectProcedure
    .input(messageRefInput)
    .use(rateLimit('change'))
    .mutation(({ ctx, input }): Promise<MessageDTO> => verifyAnswer(ctx, input, ctx.user)),
});

function assertEditable(m: StoredMessage, user: AuthedUser, moderator = false) {
  if (m.authorId !== user.id && !moderator) {
    throw new AppError('FORBIDDEN', 'Only the author can change a message');
  }
  if (m.deleted) throw new AppError('BAD_REQUEST', 'The message was deleted');
}
