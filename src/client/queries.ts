/**
 * Query inputs and options that the server (prefetch) and the browser (hooks) must agree on exactly:
 * a prefetched query is only picked up when its key - the input - is identical.
 */
import { LIMITS } from '~/shared/limits';
import type { MessagePage } from '~/shared/types';

export const MESSAGE_PAGE_SIZE = LIMITS.pageSizeDefault;

export function messageListInput(projectId: string, sessionId: string) {
  return { projectId, sessionId, limit: MESSAGE_PAGE_SIZE };
}

/** Paging of `message.list`: the cursor is the seq to read below; null means the start is loaded. */
export const messageListPaging = {
  initialCursor: null,
  getNextPageParam: (last: MessagePage) => last.nextCursor,
  // Events keep the pages current (see ./event-sync.ts); a refetch is only needed on resync.
  staleTime: Infinity,
} as const;

/** Project-scoped queries that events keep current. */
export const LIVE_QUERY_OPTIONS = { staleTime: Infinity } as const;

/** Where to send a signed-out visitor so they come back to `path` after signing in. */
export function signInPath(path: string): string {
  return `/?next=${encodeURIComponent(path)}`;
}

/**
 * What the home page lists: one page as large as a page may be, which with at most
 * MAX_PROJECTS_PER_USER projects (default 200) is all of them. Shared by the server's prefetch and the
 * page, so both use one cache entry.
 */
export const HOME_PROJECTS_INPUT = { limit: LIMITS.projectPageMax } as const;
