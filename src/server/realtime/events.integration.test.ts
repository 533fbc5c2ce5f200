import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChatStore } from '~/server/chat/store';
import { addToProject, callerWithCookieOf, createHarness, projectWithSession, useHarness } from '~/server/testing/harness';
import { openSubscription, type ReceivedEvent } from '~/server/testing/subscriptions';
import { compareEventIds } from '~/shared/event-id';
import { waitFor } from '~/server/testing/wait';

const env = useHarness(['alice']);

const send = (ref: { projectId: string; sessionId: string }, content: string, user = env.alice) =>
  user.caller.message.send({ ...ref, id: randomUUID(), content });

const contents = (events: ReceivedEvent[]) =>
  events.map((e) => (e.event.type === 'message.created' ? e.event.message.content : e.event.type));

describe('events.subscribe', () => {
  it('starts with ready, then delivers every change live, in order, with its full state', async () => {
    const ref = await projectWithSession(env.alice);
    const sub = await openSubscription(env.alice.caller.events.subscribe({ projectId: ref.projectId }));
    const [ready] = await sub.take(1);
    expect(ready?.event).toEqual({ type: 'ready', projectId: ref.projectId });
    const sent = await send(ref, 'one');
    await send(ref, 'two');
    await env.alice.caller.session.update({ ...ref, title: 'Renamed' });
    const got = await sub.take(3);
    expect(contents(got)).toEqual(['one', 'two', 'session.updated']);
    expect(got[0]?.event).toEqual({ type: 'message.created', message: sent });
    expect(got[2]?.event).toMatchObject({ type: 'session.updated', session: { title: 'Renamed', messageCount: 2 } });
    expect([...got].sort((a, b) => compareEventIds(a.id, b.id))).toEqual(got);
    await sub.close();
  });

  it('catches up from lastEventId with exactly the missed events, then goes on live', async () => {
    const ref = await projectWithSession(env.alice);
    const first = await openSubscription(env.alice.caller.events.subscribe({ projectId: ref.projectId }));
    await first.take(1);
    await send(ref, 'seen');
    const [seen] = await first.take(1);
    await first.close();

    // While the tab is away: messages, a new session, a rename, a new member.
    await send(ref, 'missed 1');
    await send(ref, 'missed 2');
    await env.alice.caller.session.create({ projectId: ref.projectId, title: 'Side room' });
    await env.alice.caller.session.update({ ...ref, description: 'now with a topic' });
    const bob = await env.h.user();
    await addToProject(env.alice, ref.projectId, bob);

    const again = await openSubscription(
      env.alice.caller.events.subscribe({ projectId: ref.projectId, lastEventId: seen!.id }),
    );
    const missed = await again.take(5);
    expect(contents(missed)).toEqual(['missed 1', 'missed 2', 'session.created', 'session.updated', 'member.added']);
    expect(missed[4]?.event).toMatchObject({ type: 'member.added', member: { id: bob.id, username: bob.username } });
    expect(await again.drain(300)).toEqual([]); // nothing doubled
    await send(ref, 'live again');
    expect(contents(await again.take(1))).toEqual(['live again']);
    await again.close();
  });

  it('loses nothing and doubles nothing when it resumes in the middle of a burst of writes', async () => {
    const ref = await projectWithSession(env.alice);
    const warm = await openSubscription(env.alice.caller.events.subscribe({ projectId: ref.projectId }));
    const [ready] = await warm.take(1);
    await warm.close();

    const burst = Array.from({ length: 300 }, (_, i) => send(ref, `b${i}`));
    // Resume from the position before the burst while it is being written.
    await new Promise((r) => setTimeout(r, 5));
    const sub = await openSubscription(
      env.alice.caller.events.subscribe({ projectId: ref.projectId, lastEventId: ready!.id }),
    );
    await Promise.all(burst);
    const got = await sub.take(300, 15_000);
    expect(await sub.drain(300)).toEqual([]);
    const seqs = got.map((e) => (e.event.type === 'message.created' ? e.event.message.seq : -1));
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    await sub.close();
  });

  it('yields resync when lastEventId is older than the trimmed log', async () => {
    const ref = await projectWithSession(env.alice);
    const sub = await openSubscription(env.alice.caller.events.subscribe({ projectId: ref.projectId }));
    await sub.take(1);
    await send(ref, 'first');
    const [firstEvent] = await sub.take(1);
    await sub.close();
    // A store with a tiny log: appending through it trims the log (MAXLEN ~ drops whole nodes).
    const tiny = new ChatStore(env.h.redis, { eventLogMaxLen: 10 });
    for (let i = 0; i < 400; i++) {
      await tiny.appendMessage({ ...ref, id: randomUUID(), content: `t${i}`, author: env.alice });
    }
    const resumed = await openSubscription(
      env.alice.caller.events.subscribe({ projectId: ref.projectId, lastEventId: firstEvent!.id }),
    );
    const [resync] = await resumed.take(1);
    expect(resync?.event).toEqual({ type: 'resync', projectId: ref.projectId });
    await send(ref, 'after resync');
    expect(contents(await resumed.take(1))).toEqual(['after resync']);
    await resumed.close();
  });

  it('yields resync when lastEventId is ahead of the log (Redis lost its data)', async () => {
    const ref = await projectWithSession(env.alice);
    const sub = await openSubscription(
      env.alice.caller.events.subscribe({ projectId: ref.projectId, lastEventId: `${Date.now() + 3_600_000}-0` }),
    );
    expect((await sub.take(1))[0]?.event.type).toBe('resync');
    await sub.close();
  });

  it('keeps projects apart: a subscriber hears only its own project', async () => {
    const mine = await projectWithSession(env.alice);
    const bob = await env.h.user();
    const theirs = await projectWithSession(bob);
    const sub = await openSubscription(env.alice.caller.events.subscribe({ projectId: mine.projectId }));
    await sub.take(1);
    await send(theirs, 'not for alice', bob);
    await send(mine, 'for alice');
    expect(contents(await sub.take(1))).toEqual(['for alice']);
    expect(await sub.drain(300)).toEqual([]);
    await sub.close();
  });
});

describe('the per-process hub', () => {
  it('uses one subscriber connection for many subscriptions and projects', async () => {
    const local = createHarness();
    const countPubsub = async () =>
      String(await env.h.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
        .split('\n')
        .filter((line) => line.trim()).length;
    const before = await countPubsub();
    const refs = await Promise.all([projectWithSession(env.alice), projectWithSession(env.alice), projectWithSession(env.alice)]);
    // Three users with ten streams each (one user holding 30 is over the per-user stream cap).
    const users = [env.alice, await env.h.user(), await env.h.user()];
    for (const u of users.slice(1)) for (const ref of refs) await addToProject(env.alice, ref.projectId, u);
    const subs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        openSubscription(
          callerWithCookieOf(local, users[Math.floor(i / 10)]!).events.subscribe({ projectId: refs[i % 3]!.projectId }),
        ),
      ),
    );
    await Promise.all(subs.map((s) => s.take(1)));
    expect(await countPubsub()).toBe(before + 1);
    expect(local.hub.followedProjects).toBe(3);
    await send(refs[0], 'fan out');
    const got = await Promise.all(subs.filter((_, i) => i % 3 === 0).map((s) => s.take(1)));
    expect(got.every((g) => contents(g)[0] === 'fan out')).toBe(true);
    await Promise.all(subs.map((s) => s.close()));
    await local.close();
  });

  it('a subscriber joining as the last one leaves is not attached to a dropped tail', async () => {
    const local = createHarness();
    const ref = await projectWithSession(env.alice);
    const first = await local.hub.follow(ref.projectId, () => undefined);
    const received: string[] = [];
    const joining = local.hub.follow(ref.projectId, (item) => {
      if (item.kind === 'entry') received.push(item.id);
    });
    first.stop(); // drops the tail before `joining` resumes
    const second = await joining;
    await send(ref, 'still heard');
    await waitFor(() => received.length > 0, 10_000, 'the joining subscriber hears the new message');
    expect(received).toHaveLength(1);
    second.stop();
    await local.close();
  });

  it('two app processes on one Redis both deliver every event exactly once', async () => {
    const other = createHarness(); // a second "process": its own connections and hub
    const ref = await projectWithSession(env.alice);
    const a = await openSubscription(env.alice.caller.events.subscribe({ projectId: ref.projectId }));
    const b = await openSubscription(callerWithCookieOf(other, env.alice).events.subscribe({ projectId: ref.projectId }));
    await a.take(1);
    await b.take(1);
    for (let i = 0; i < 50; i++) await send(ref, `x${i}`);
    const expected = Array.from({ length: 50 }, (_, i) => `x${i}`);
    expect(contents(await a.take(50))).toEqual(expected);
    expect(contents(await b.take(50))).toEqual(expected);
    expect(await a.drain(200)).toEqual([]);
    expect(await b.drain(200)).toEqual([]);
    await a.close();
    await b.close();
    await other.close();
  });
});
