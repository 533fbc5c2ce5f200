/**
 * The one QueryClient factory, used by both sides (so it lives in neither src/server nor src/client):
 * server components make a fresh client per request (see src/server/trpc/rsc.ts, wrapped in React's
 * `cache`), the browser keeps one for the life of the tab (see src/client/trpc.tsx). A client shared
 * across server requests would leak one user's data into another's page.
 */
import { defaultShouldDehydrateQuery, QueryClient } from '@tanstack/react-query';

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Pages render with server data; do not refetch it the moment it reaches the browser.
        // Chat queries are kept current by events and set their own staleTime (Infinity).
        staleTime: 30_000,
      },
      dehydrate: {
        // Also send queries still in flight, so a server component may start a prefetch without
        // awaiting it and the browser picks up the result.
        shouldDehydrateQuery: (query) => defaultShouldDehydrateQuery(query) || query.state.status === 'pending',
      },
    },
  });
}
