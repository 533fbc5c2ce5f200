import 'server-only';
import { chatHistoryInput } from '~/shared/schemas';
import type { MessageDTO } from '~/shared/types';
import { projectProcedure, router } from '../init';

export const chatRouter = router({
  /**
   * The seed's history endpoint: a session's newest `limit` messages, or without `sessionId` the
   * project's newest across all sessions. Oldest first, like a page of `message.list`.
   */
  history: projectProcedure.input(chatHistoryInput).query(async ({ ctx, input }): Promise<MessageDTO[]> => {
    if (input.sessionId) {
      const page = await ctx.store.listMessages({ ...input, sessionId: input.sessionId });
      return page.items;
    }
    return ctx.store.recentMessages(input.projectId, input.limit);
  }),
});
