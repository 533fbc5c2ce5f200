/**
 * tRPC for server components: the same procedures the browser calls, invoked in-process (no HTTP)
 * with the visitor's login cookie, and a per-request QueryClient whose prefetched queries are handed
 * to the browser through <HydrateClient>. Everything here is per request (React `cache`): a cache
 * shared across requests would show one user's data to another.
 */
import 'server-only';
import { dehydrate, HydrationBoundary } from '@tanstack/react-query';
import { TRPCError } from '@trpc/server';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { headers } from 'next/headers';
import { cache, createElement, type ReactNode } from 'react';
import { makeQueryClient } from '~/shared/query-client';
import { readSessionToken } from '~/server/auth/cookie';
import { getServices } from '~/server/context';
import type { ProjectDetailDTO, Viewer } from '~/shared/types';
import { createContextInner, type Context } from './init';
import { appRouter, createCaller } from './root';

export const getQueryClient = cache(makeQueryClient);

const getContext = cache(async (): Promise<Context> => {
  const cookie = (await headers()).get('cookie');
  // Server components cannot set cookies; sign-in and sign-out go through the API route.
  return createContextInner({ services: getServices(), sessionToken: readSessionToken(cookie) });
});

/** Query options for prefetching in server components: `getQueryClient().prefetchQuery(trpc.x.queryOptions(...))`. */
export const trpc = createTRPCOptionsProxy({ ctx: getContext, router: appRouter, queryClient: getQueryClient });

/** A direct caller, for data a server component needs itself (redirects, not-found). */
export const getCaller = cache(async () => createCaller(await getContext()));

/** The signed-in user, or null. */
export const getViewer = cache(async () => (await getCaller()).auth.me());

export type ProjectAccess =
  | { kind: 'signed-out' }
  /** Missing, not a member, or not even a valid id: all look the same from outside. */
  | { kind: 'not-found' }
  | { kind: 'member'; viewer: Viewer; project: ProjectDetailDTO };

/** Whether the visitor may see the project; also puts `project.get` in the request's cache. */
export const getProjectAccess = cache(async (projectId: string): Promise<ProjectAccess> => {
  const viewer = await getViewer();
  if (!viewer) return { kind: 'signed-out' };
  try {
    const project = await getQueryClient().fetchQuery(trpc.project.get.queryOptions({ projectId }));
    return { kind: 'member', viewer, project };
  } catch (err) {
    const code = err instanceof TRPCError ? err.code : null;
    if (code === 'UNAUTHORIZED') return { kind: 'signed-out' };
    if (code === 'NOT_FOUND' || code === 'BAD_REQUEST') return { kind: 'not-found' };
    throw err;
  }
});

/** True when a procedure failed because the thing asked for does not exist (or the id is malformed). */
export function isNotFoundError(err: unknown): boolean {
  return err instanceof TRPCError && (err.code === 'NOT_FOUND' || err.code === 'BAD_REQUEST');
}

/** Hands this request's prefetched queries to the browser's cache. */
export function HydrateClient({ children }: { children: ReactNode }) {
  return createElement(HydrationBoundary, { state: dehydrate(getQueryClient()) }, children);
}
