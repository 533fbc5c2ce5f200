import { InfiniteQueryObserver, QueryClient } from '@tanstack/react-query';
import { createTRPCClient, TRPCClientError, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '~/server/trpc/root';
import type { MessagePage, ProjectDetailDTO } from '~/shared/types';
import { flattenPages, type MessagePages, type OutboxEntry } from './cache-updates';
import { LiveCache, outboxKey } from './live-cache';
import { messageListInput, messageListPaging } from './queries';
import { iso, msg, P, S, session as sessionOf } from '~/shared/test-fixtures';

const session = sessionOf(S, { title: 'Kickoff', messageCount: 2, lastMessageAt: iso(2) });

/** A client whose "server" answers message.list from `serverPage` and counts the calls. */
function setup(serverPage: () => MessagePage) {
  let listCalls = 0;
  const link: TRPCLink<AppRouter> = () => ({ op }) =>
    observable((observer) => {
      if (op.path === 'message.list') {
        listCalls++;
        observer.next({ result: { type: 'data', data: serverPage() } });
        observer.complete();
      } else {
        observer.error(new TRPCClientError(`not in this test: ${op.path}`));
      }
      return () => undefined;
    });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const trpc = createTRPCOptionsProxy<AppRouter>({ client: createTRPCClient<AppRouter>({ links: [link] }), queryClient: qc });
  const live = new LiveCache(qc, trpc, P);
  const listKey = trpc.message.list.infiniteQueryKey(messageListInput(P, S));
  const pages = (): MessagePages => qc.getQueryData(listKey)!;
  return { qc, trpc, live, listKey, pages, listCalls: () => listCalls };
}

describe('LiveCache', () => {
  it('writes a message event and the mutation answer for the same id as one copy, and counts it once', () => {
    const { qc, trpc, live, listKey, pages } = setup(() => ({ items: [], nextCursor: null }));
    qc.setQueryData(listKey, { pages: [{ items: [msg(1), msg(2)], nextCursor: null }], pageParams: [null] });
    qc.setQueryData(trpc.session.list.queryKey({ projectId: P }), [session]);
    qc.setQueryData<OutboxEntry[]>(outboxKey(P, S), [
      { id: 'm-3', sessionId: S, content: 'message 3', createdAt: iso(3), state: 'sending', error: null },
    ]);

    live.apply({ type: 'message.created', message: msg(3) });
    live.applyStoredMessage(msg(3));

    expect(flattenPages(pages()).map((m) => m.id)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(qc.getQueryData(trpc.session.list.queryKey({ projectId: P }))![0]!.messageCount).toBe(3);
    expect(qc.getQueryData(outboxKey(P, S))).toEqual([]);
  });

  it('applies member.added and session events to the project and session caches', () => {
    const { qc, trpc, live } = setup(() => ({ items: [], nextCursor: null }));
    const project: ProjectDetailDTO = { id: P, name: 'p', ownerId: 'u1', createdAt: iso(0), lastActivityAt: iso(0), members: [] };
    qc.setQueryData(trpc.project.get.queryKey({ projectId: P }), project);
    qc.setQueryData(trpc.session.list.queryKey({ projectId: P }), [session]);
    qc.setQueryData(trpc.session.get.queryKey({ projectId: P, sessionId: S }), session);

    live.apply({ type: 'member.added', projectId: P, member: { id: 'u2', username: 'bob' } });
    live.apply({ type: 'session.updated', session: { ...session, title: 'Renamed', updatedAt: iso(9) } });
    const other = { ...session, id: 'other', title: 'Second', createdAt: iso(10), updatedAt: iso(10), lastMessageAt: null };
    live.apply({ type: 'session.created', session: other });

    expect(qc.getQueryData(trpc.project.get.queryKey({ projectId: P }))!.members).toEqual([{ id: 'u2', username: 'bob' }]);
    expect(qc.getQueryData(trpc.session.get.queryKey({ projectId: P, sessionId: S }))!.title).toBe('Renamed');
    expect(qc.getQueryData(trpc.session.list.queryKey({ projectId: P }))!.map((s) => s.title)).toEqual(['Second', 'Renamed']);
  });

  it('refetches when seqs show a gap, and re-applies events that the refetch answer predates', async () => {
    let serverPage: MessagePage = { items: [msg(1), msg(2)], nextCursor: null };
    const { qc, trpc, live, pages, listCalls } = setup(() => serverPage);
    // A mounted view of the session (only observed queries are refetched).
    const view = new InfiniteQueryObserver(qc, trpc.message.list.infiniteQueryOptions(messageListInput(P, S), messageListPaging));
    const unsubscribe = view.subscribe(() => undefined);
    await expect.poll(() => listCalls()).toBe(1);

    // The refetch answer will have been read before message 5 was stored.
    serverPage = { items: [msg(1), msg(2), msg(3), msg(4)], nextCursor: null };
    live.apply({ type: 'message.created', message: msg(5) }); // 3 and 4 were missed
    expect(flattenPages(pages()).map((m) => m.seq)).toEqual([1, 2, 5]);
    await expect.poll(() => listCalls()).toBe(2);
    await expect.poll(() => flattenPages(pages()).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    unsubscribe();
  });

  it('after Redis recovers, a send answered during the outage shows at its final seq, once', async () => {
    let serverPage: MessagePage = { items: [msg(1), msg(2), msg(3), msg(4)], nextCursor: null };
    const { qc, trpc, live, pages, listCalls } = setup(() => serverPage);
    const view = new InfiniteQueryObserver(qc, trpc.message.list.infiniteQueryOptions(messageListInput(P, S), messageListPaging));
    const unsubscribe = view.subscribe(() => undefined);
    await expect.poll(() => listCalls()).toBe(1);
    const shown = () => flattenPages(pages()).map((m) => `${m.seq}:${m.id}`);

    // Redis is down and PostgreSQL had persisted up to seq 2 (the outbox lagged): the failover path
    // answers the send with provisional seq 3, marked as such.
    const sentAt = iso(10);
    const x = { ...msg(5), id: 'X', createdAt: sentAt, updatedAt: sentAt };
    live.applyStoredMessage({ ...x, seq: 3, metadata: { provisional: true } });
    expect(shown()).toContain('3:X');

    // Redis is back; X was replayed at seq 5 (same updatedAt). The tab gets a resync and refetches,
    // then re-applies its buffered events - the provisional answer among them.
    serverPage = { items: [msg(1), msg(2), msg(3), msg(4), x], nextCursor: null };
    live.refetchAll();
    await expect.poll(() => listCalls()).toBe(2);
    await expect.poll(shown).toEqual(['1:m-1', '2:m-2', '3:m-3', '4:m-4', '5:X']);
    live.replay();
    expect(shown()).toEqual(['1:m-1', '2:m-2', '3:m-3', '4:m-4', '5:X']);
    unsubscribe();
  });
});
