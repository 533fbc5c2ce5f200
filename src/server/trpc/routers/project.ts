import 'server-only';
import { env } from '~/server/env';
import { Presence, type UnreadTotals } from '~/server/chat/read-state';
import { AppError } from '~/server/errors';
import { LIMITS } from '~/shared/limits';
import { presenceHeartbeatInput, projectAddMemberInput, projectCreateInput, projectIdInput, projectListInput } from '~/shared/schemas';
import type { InvitationDTO, PresenceDTO, ProjectDetailDTO, ProjectDTO } from '~/shared/types';
import { authedProcedure, projectProcedure, router } from '../init';
import { rateLimit } from '../limits';

export const projectRouter = router({
  /**
   * The caller's projects, newest activity first, one page: `limit` (default 50, at most 200) after
   * skipping `cursor` (the number already read). Called with no input, as before paging existed, it
   * answers the first page. A page shorter than `limit` is the last.
   */
  list: authedProcedure.input(projectListInput).query(async ({ ctx, input }): Promise<ProjectDTO[]> => {
    const all = await ctx.store.listProjectsFor(ctx.user.id);
    const from = input?.cursor ?? 0;
    return all.slice(from, from + (input?.limit ?? LIMITS.projectPageDefault));
  }),

  /** A browser's leader tab says its user is here (every PRESENCE.heartbeatMs). Ephemeral. */
  heartbeat: projectProcedure
    .input(presenceHeartbeatInput)
    .use(rateLimit('change'))
    .mutation(async ({ ctx, input }): Promise<{ until: number }> => ({
      until: await new Presence(ctx.redis).heartbeat(input.projectId, ctx.user.id, input.state),
    })),

  /** Members whose browser has the project open now. */
  presence: projectProcedure.query(({ ctx, input }): Promise<PresenceDTO[]> => new Presence(ctx.redis).list(input.projectId)),

  /**
   * Per project of the caller: unread messages and unread mentions of the caller, for the home page's
   * badges (kept live by events.unread).
   */
  unreadTotals: authedProcedure.query(async ({ ctx }): Promise<UnreadTotals> => {
    const projects = await ctx.store.listProjectsFor(ctx.user.id);
    return ctx.reads.unreadTotals(
      projects.map((p) => p.id),
      ctx.user.id,
    );
  }),

  create: authedProcedure
    .input(projectCreateInput)
    .use(rateLimit('projectCreate'))
    .mutation(async ({ ctx, input }): Promise<ProjectDTO> => {
      await assertRoomForAnotherProject(ctx.store, ctx.user.id);
      return ctx.store.createProject({ name: input.name, owner: ctx.user });
    }),

  get: projectProcedure.query(async ({ ctx, input }): Promise<ProjectDetailDTO> => {
    const { project, memberIds } = await ctx.store.getProject(input.projectId);
    const members = await ctx.auth.usernames(memberIds);
    members.sort((a, b) => a.username.localeCompare(b.username));
    return { ...project, members };
  }),

  /**
   * Invites a user by name (the name and input predate invitations). The answer is the same whether
   * or not the name exists (issue 14 item 11b): `{status: 'invited'}`, or 'already_member' for one of
   * the members the caller can see anyway. Nobody joins without accepting.
   */
  addMember: projectProcedure
    .input(projectAddMemberInput)
    .use(rateLimit('invite'))
    .mutation(async ({ ctx, input }): Promise<{ status: 'invited' | 'already_member' }> => {
      const invitee = await ctx.auth.findByUsername(input.username);
      if (!invitee) return { status: 'invited' };
      const status = await ctx.store.invite(input.projectId, invitee, ctx.user, env.MAX_PENDING_INVITES_PER_PROJECT);
      return { status };
    }),

  /** The caller's pending invitations, newest first. */
  invitations: authedProcedure.query(({ ctx }): Promise<InvitationDTO[]> => ctx.store.listInvitations(ctx.user.id)),

  /**
   * Joins a project the caller was invited to (not projectProcedure: the caller is not a member yet).
   * No invitation: NOT_FOUND, like a project that does not exist.
   */
  acceptInvite: authedProcedure.input(projectIdInput).mutation(async ({ ctx, input }) => {
    const joined = await ctx.store.acceptInvite(input.projectId, ctx.user, env.MAX_PROJECTS_PER_USER);
    return { joined };
  }),

  declineInvite: authedProcedure.input(projectIdInput).mutation(async ({ ctx, input }) => {
    await ctx.store.declineInvite(input.projectId, ctx.user.id);
    return { ok: true as const };
  }),

  /**
   * Leaves a project: access ends at once, open event streams included. The owner can leave only as
   * the last member (CONFLICT otherwise; there is no ownership transfer).
   */
  leave: projectProcedure.mutation(async ({ ctx, input }) => {
    await ctx.store.leaveProject(input.projectId, { id: ctx.user.id, username: ctx.user.username });
    return { ok: true as const };
  }),
});

async function assertRoomForAnotherProject(store: { countProjectsOf(userId: string): Promise<number> }, userId: string) {
  const count = await store.countProjectsOf(userId);
  if (count >= env.MAX_PROJECTS_PER_USER) {
    throw new AppError(
      'BAD_REQUEST',
      `You are in ${count} projects, the most allowed (${env.MAX_PROJECTS_PER_USER}); leave one first`,
    );
  }
}
