import 'server-only';
import { messageListInput, messageSendInput } from '~/shared/schemas';
import type { MessageDTO, MessagePage } from '~/shared/types';
import { projectProcedure, router } from '../init';

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
});
