import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, TRPCClientError, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '~/server/trpc/root';
import { advanceMarker, unreadCount } from './cache-updates';
import { LiveCache } from './live-cache';
import { msg, P, S, session } from '~/shared/test-fixtures';

describe('read marker rules', () => {
  it('a marker only moves forward', () => {
    const m = { [S]: 4 };
    expect(advanceMarker(m, S, 2)).toBe(m);
    expect(advanceMarker(m, S, 4)).toBe(m);
    expect(advanceMarker(m, S, 6)).toEqual({ [S]: 6 });
    expect(advanceMarker({}, 'other', 1)).toEqual({ other: 1 });
  });

  it('unread is lastSeq - lastRead, never negative; a session never read counts all', () => {
    expect(unreadCount(session(S, { messageCount: 7 }), { [S]: 3 })).toBe(4);
    expect(unreadCount(session(S, { messageCount: 7 }), {})).toBe(7);
    expect(unreadCount(session(S, { messageCount: 2 }), { [S]: 5 })).toBe(0);
  });
});

describe('LiveCache and read markers', () => {
  function setup(viewerId: string) {
    const link: TRPCLink<AppRouter> = () => ({ op }) =>
      observable((observer) => {
        observer.error(new TRPCClientError(`not in this test: ${op.path}`));
        return () => undefined;
      });
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const trpc = createTRPCOptionsProxy<AppRouter>({ client: createTRPCClient<AppRouter>({ links: [link] }), queryClient: qc });
    const key = trpc.session.readMarkers.queryKey({ projectId: P });
    qc.setQueryData(key, { [S]: 1 });
    return { live: new LiveCache(qc, trpc, P, viewerId), markers: () => qc.getQueryData(key) };
  }

  it('read.updated moves the marker forward, a stale one does not move it back', () => {
    const { live, markers } = setup('me');
    live.apply({ type: 'read.updated', projectId: P, sessionId: S, lastRead: 5 });
    live.apply({ type: 'read.updated', projectId: P, sessionId: S, lastRead: 3 });
    expect(markers()).toEqual({ [S]: 5 });
  });

  it('the viewer’s own new message is read; someone else’s is not', () => {
    const mine = setup(msg(2).authorId);
    mine.live.apply({ type: 'message.created', message: msg(2) });
    expect(mine.markers()).toEqual({ [S]: 2 });
    const theirs = setup('someone-else');
    theirs.live.apply({ type: 'message.created', message: msg(2) });
    expect(theirs.markers()).toEqual({ [S]: 1 });
  });
});
