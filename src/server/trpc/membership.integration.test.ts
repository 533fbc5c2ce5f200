import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsFromEnv } from '~/server/limits/rate-limits';
import { keys } from '~/server/redis/keys';
import {
  addToProject,
  createHarness,
  projectWithSession,
  type Harness,
} from '~/server/testing/harness';
import { countRoundTrips } from '~/server/testing/round-trips';
import { openSubscription } from '~/server/testing/subscriptions';
import { createContextInner } from './init';
import { createCaller } from './root';

let h: Harness;
beforeAll(() => {
  // Two streams per user, so the cap is reached in a test; all else as in the app.
  h = createHarness(undefined, { limits: { ...limitsFromEnv(), streamsPerUser: 2 } });
});
afterAll(() => h.close());

describe('invitations instead of forced membership (issue 14 item 6)', () => {
  it('adding someone to many projects makes them a member of none until they accept', async () => {
    const [pushy, target] = [await h.user(), await h.user()];
    const pids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await pushy.caller.project.create({ name: `Spam ${i}` });
      pids.push(p.id);
      expect(await pushy.caller.project.addMember({ projectId: p.id, username: target.username })).toEqual({
        status: 'invited',
      });
    }
    expect(await target.caller.project.list()).toEqual([]);
    for (const pid of pids) {
      expect(await h.redis.sismember(keys.members(pid), target.id)).toBe(0);
      await expect(target.caller.session.list({ projectId: pid })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    const invitations = await target.caller.project.invitations();
    expect(invitations.map((i) => i.projectId).sort()).toEqual([...pids].sort());
    expect(invitations[0]).toMatchObject({ inviterName: pushy.username });

    // Declining drops the invitation for good; accepting one joins that one only.
    await target.caller.project.declineInvite({ projectId: pids[0]! });
    await expect(target.caller.project.acceptInvite({ projectId: pids[0]! })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await target.caller.project.acceptInvite({ projectId: pids[1]! })).toEqual({ joined: true });
    // A repeated accept is a no-op.
    expect(await target.caller.project.acceptInvite({ projectId: pids[1]! })).toEqual({ joined: false });
    expect((await target.caller.project.list()).map((p) => p.id)).toEqual([pids[1]]);
    expect((await target.caller.project.invitations()).map((i) => i.projectId).sort()).toEqual(pids.slice(2).sort());
  });

  it('accepting joins through one script that announces member.added to open streams', async () => {
    const [owner, guest] = [await h.user(), await h.user()];
    const ref = await projectWithSession(owner);
    const sub = await openSubscription(owner.caller.events.subscribe({ projectId: ref.projectId }));
    await sub.take(1);
    await owner.caller.project.addMember({ projectId: ref.projectId, username: guest.username });
    expect(await sub.drain(300)).toEqual([]); // an invitation is not news for the project
    await guest.caller.project.acceptInvite({ projectId: ref.projectId });
    const [added] = await sub.take(1);
    expect(added?.event).toEqual({
      type: 'member.added',
      projectId: ref.projectId,
      member: { id: guest.id, username: guest.username },
    });
    await sub.close();
  });

  it('caps pending invitations per project and projects per user', async () => {
    const [owner, a, b] = [await h.user(), await h.user(), await h.user()];
    const p = await owner.caller.project.create({ name: 'Capped' });
    const inviter = { id: owner.id, username: owner.username };
    expect(await h.store.invite(p.id, a, inviter, 1)).toBe('invited');
    // Inviting the same person again is not a second invitation.
    expect(await h.store.invite(p.id, a, inviter, 1)).toBe('invited');
    await expect(h.store.invite(p.id, b, inviter, 1)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/too many pending invitations/) as unknown,
    });
    // b already belongs to one project (their own): with a cap of one, they cannot join another.
    await b.caller.project.create({ name: 'Own' });
    expect(await h.store.invite(p.id, b, inviter, 5)).toBe('invited');
    await expect(h.store.acceptInvite(p.id, b, 1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await h.redis.sismember(keys.members(p.id), b.id)).toBe(0);
  });
});

describe('leaving a project', () => {
  it('a member who leaves loses access at once, open streams included; the others see member.removed', async () => {
    const [owner, member] = [await h.user(), await h.user()];
    const ref = await projectWithSession(owner);
    await addToProject(owner, ref.projectId, member);
    const theirs = await openSubscription(member.caller.events.subscribe({ projectId: ref.projectId }));
    const mine = await openSubscription(owner.caller.events.subscribe({ projectId: ref.projectId }));
    await theirs.take(1);
    await mine.take(1);

    expect(await member.caller.project.leave({ projectId: ref.projectId })).toEqual({ ok: true });
    const removed = { type: 'member.removed', projectId: ref.projectId, member: { id: member.id, username: member.username } };
    expect((await mine.take(1))[0]?.event).toEqual(removed);
    // Their stream gets the event, then ends; reconnecting is refused as for a project that does not exist.
    expect((await theirs.take(1))[0]?.event).toEqual(removed);
    await expect(theirs.take(1)).rejects.toThrow('subscription ended');
    await expect(member.caller.events.subscribe({ projectId: ref.projectId })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    await expect(member.caller.message.list(ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await member.caller.project.list()).toEqual([]);
    const detail = await owner.caller.project.get({ projectId: ref.projectId });
    expect(detail.members.map((m) => m.id)).toEqual([owner.id]);
    // Messages still flow for those who stayed.
    await owner.caller.message.send({ ...ref, id: randomUUID(), content: 'still here' });
    expect((await mine.take(1))[0]?.event.type).toBe('message.created');
    await mine.close();
    await theirs.close();

    // They can come back only by a new invitation.
    await expect(member.caller.project.acceptInvite({ projectId: ref.projectId })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await addToProject(owner, ref.projectId, member);
    expect((await member.caller.message.list(ref)).items).toHaveLength(1);
  });

  it('the owner cannot leave while others remain, and can as the last member', async () => {
    const [owner, member] = [await h.user(), await h.user()];
    const p = await owner.caller.project.create({ name: 'Mine' });
    await addToProject(owner, p.id, member);
    await expect(owner.caller.project.leave({ projectId: p.id })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/owner cannot leave/) as unknown,
    });
    await member.caller.project.leave({ projectId: p.id });
    await owner.caller.project.leave({ projectId: p.id });
    expect(await owner.caller.project.list()).toEqual([]);
  });
});

describe('project.list paging', () => {
  it('pages with limit and cursor, and the old call without input answers the first page', async () => {
    const u = await h.user();
    for (let i = 0; i < 5; i++) await u.caller.project.create({ name: `P${i}` });
    const all = await u.caller.project.list();
    expect(all).toHaveLength(5);
    const first = await u.caller.project.list({ limit: 2 });
    const second = await u.caller.project.list({ limit: 2, cursor: 2 });
    const third = await u.caller.project.list({ limit: 2, cursor: 4 });
    expect([...first, ...second, ...third].map((p) => p.id)).toEqual(all.map((p) => p.id));
    expect(third).toHaveLength(1);
    await expect(u.caller.project.list({ limit: 500 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('event streams (issue 14 item 8)', () => {
  it('caps open streams per user; a closed one frees its slot; other users are not affected', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    const s1 = await openSubscription(u.caller.events.subscribe({ projectId: ref.projectId }));
    const s2 = await openSubscription(u.caller.events.subscribe({ projectId: ref.projectId }));
    await s1.take(1);
    await s2.take(1);
    const headers = new Headers();
    const sameUser = createCaller(
      createContextInner({ services: h, sessionToken: u.token, setHeader: (n, v) => headers.set(n, v) }),
    );
    await expect(sameUser.events.subscribe({ projectId: ref.projectId })).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    expect(Number(headers.get('Retry-After'))).toBeGreaterThan(0);
    const other = await h.user();
    const otherRef = await projectWithSession(other);
    const s3 = await openSubscription(other.caller.events.subscribe({ projectId: otherRef.projectId }));
    await s3.take(1);
    await s1.close();
    const s4 = await openSubscription(u.caller.events.subscribe({ projectId: ref.projectId }));
    await s4.take(1);
    await Promise.all([s2.close(), s3.close(), s4.close()]);
  });

  it('signing out ends the login’s streams, in every process', async () => {
    const u = await h.user();
    const ref = await projectWithSession(u);
    // A second "process": its own hub and Redis connections over the same Redis.
    const elsewhere = createHarness();
    try {
      const here = await openSubscription(u.caller.events.subscribe({ projectId: ref.projectId }));
      const there = await openSubscription(
        createCaller(createContextInner({ services: elsewhere, sessionToken: u.token })).events.subscribe({
          projectId: ref.projectId,
        }),
      );
      await here.take(1);
      await there.take(1);
      await u.caller.auth.signOut();
      await expect(here.take(1)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(there.take(1)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    } finally {
      await elsewhere.close();
    }
  });

  it('idle streams make no Redis calls (no polling)', async () => {
    const u = await h.user();
    const refs = await Promise.all(Array.from({ length: 10 }, () => projectWithSession(u)));
    const idle = createHarness(); // default stream caps: 10 streams of one user
    try {
      const caller = createCaller(createContextInner({ services: idle, sessionToken: u.token }));
      const subs = await Promise.all(refs.map((ref) => openSubscription(caller.events.subscribe({ projectId: ref.projectId }))));
      for (const sub of subs) await sub.take(1);
      // Every command the streams' process sends on its command connection (the hub reads the logs
      // there; its subscriber connection only listens). Counted at the client, so nothing else that
      // talks to the same Redis - a replica's sync, a cluster's own chatter, another test's leftovers -
      // can blur it (counting every node's INFO commandstats saw a stray command now and then).
      const sent = countRoundTrips(idle.redis);
      // Longer than the old 2 s poll: 10 followed projects would have cost 20+ reads.
      await new Promise((r) => setTimeout(r, 5000));
      expect(sent.stop(), sent.trips.join(', ')).toBe(0);
      await Promise.all(subs.map((s) => s.close()));
    } finally {
      await idle.close();
    }
  });
});
