'use client';
/**
 * The browser's tRPC client and QueryClient. Subscriptions (SSE) go through httpSubscriptionLink;
 * auth.* and the ephemeral signals (typing, presence) through httpLink, one call per request; every
 * other call through httpBatchLink. No transformer (the wire is plain JSON, see ARCHITECTURE).
 */
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { useState, type ReactNode } from 'react';
import type { AppRouter } from '~/server/trpc/root';
import { LIMITS } from '~/shared/limits';
import { makeQueryClient } from '~/shared/query-client';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type ParleyClient = ReturnType<typeof createTRPCClient<AppRouter>>;

let browserQueryClient: QueryClient | undefined;

/** A new client for every server render, one for the life of the tab in the browser. */
function getQueryClient(): QueryClient {
  if (typeof window === 'undefined') return makeQueryClient();
  browserQueryClient ??= makeQueryClient();
  return browserQueryClient;
}

const API_URL = '/api/trpc';

const UNBATCHED = new Set(['session.typing', 'project.heartbeat']);

function makeTRPCClient(): ParleyClient {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url: API_URL }),
        // The server refuses auth.* calls inside a batch and batches over the cap
        // (src/server/http/request-guard.ts), so the client never builds either. Ephemeral signals
        // (typing, presence) go alone too: a send must never share a request, or its fate, with them.
        false: splitLink({
          condition: (op) => op.path.startsWith('auth.') || UNBATCHED.has(op.path),
          true: httpLink({ url: API_URL }),
          false: httpBatchLink({ url: API_URL, maxItems: LIMITS.requestBatchMax }),
        }),
      }),
    ],
  });
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  // Not useState for the QueryClient: if React suspends on the first render it would throw the
  // state away and make a second cache. The module-level browser client survives that.
  const queryClient = getQueryClient();
  const [trpcClient] = useState(makeTRPCClient);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
