import 'server-only';
import { TRPCError } from '@trpc/server';
import type { StoredMessage } from '~/server/chat/codec';
import type { AuthedUser } from '~/server/auth/service';
import { messageEditInput, messageListInput, messageReactInput, messageRefInput, messageSendInput } from '~/shared/schemas';
import type { MessageDTO, MessagePage } from '~/shared/types';
import { searchMessages } from '~/server/search/service';
import { messageSearchInput, type SearchPageDTO } from '~/shared/search';
import { authedProcedure, projectProcedure, router } from '../init';

export const messageRouter = router({
  /** Newest page first; `cursor` is the seq to read below (the previous page's `nextCursor`). */
  list: projectProcedure
    .input(messageListInput)
    .query(({ ctx, input }): Promise<MessagePage> => ctx.store.listMessages(input)),

  /** Idempotent by `id`: a repeat returns the stored message and changes nothing. */
  send: projectProcedure.input(messageSendInput).mutation(async ({ ctx, input }): Promise<MessageDTO> => {
    const { message } = await ctx.store.appendMessage({ ...input, author: ctx.user });
    return message;
  }),

  /** The author edits their message's text; everyone sees `message.updated` with the "edited" mark. */
  edit: projectProcedure.input(messageEditInput).mutation(({ ctx, input }): Promise<MessageDTO> =>
    ctx.store.changeMessage(input, 'message.updated', (m) => {
      assertEditable(m, ctx.user);
      return m.content === input.content ? m : { ...m, content: input.content, isEdited: true };
    }),
  ),

  /** The author deletes their message: a tombstone keeps its place (seq) but not its text. */
  delete: projectProcedure.input(messageRefInput).mutation(({ ctx, input }): Promise<MessageDTO> =>
    ctx.store.changeMessage(input, 'message.deleted', (m) => {
      assertEditable(m, ctx.user);
      const { reactions: _r, metadata: _m, aiResponse: _a, ...rest } = m;
      return { ...rest, content: '', deleted: true };
    }),
  ),

  /**
   * Full-text search in one project or (no projectId) all of the caller's projects; members only.
   * Not a projectProcedure because projectId is optional: searchMessages checks membership itself.
   */
  search: authedProcedure
    .input(messageSearchInput)
    .query(({ ctx, input }): Promise<SearchPageDTO> => searchMessages(ctx, ctx.user, input)),

  /** Toggles the caller's reaction with this emoji. */
  react: projectProcedure.input(messageReactInput).mutation(({ ctx, input }): Promise<MessageDTO> =>
    ctx.store.changeMessage(input, 'message.updated', (m) => {
      if (m.deleted) throw new TRPCError({ code: 'BAD_REQUEST', message: 'The message was deleted' });
      const reactions = m.reactions ?? [];
      const mine = (r: { emoji: string; userId: string }) => r.emoji === input.emoji && r.userId === ctx.user.id;
      const next = reactions.some(mine)
        ? reactions.filter((r) => !mine(r))
        : [...reactions, { emoji: input.emoji, userId: ctx.user.id }];
      const { reactions: _old, ...rest } = m;
      return next.length > 0 ? { ...rest, reactions: next } : rest;
    }),
  ),
});

function assertEditable(m: StoredMessage, user: AuthedUser) {
  if (m.authorId !== user.id) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'Only the author can change a message' });
  }
  if (m.deleted) throw new TRPCError({ code: 'BAD_REQUEST', message: 'The message was deleted' });
}
