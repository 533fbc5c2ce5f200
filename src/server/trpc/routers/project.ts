import 'server-only';
import { TRPCError } from '@trpc/server';
import { projectAddMemberInput, projectCreateInput } from '~/shared/schemas';
import type { MemberDTO, ProjectDetailDTO, ProjectDTO } from '~/shared/types';
import { authedProcedure, projectProcedure, router } from '../init';
import { rateLimit } from '../limits';

export const projectRouter = router({
  list: authedProcedure.query(({ ctx }): Promise<ProjectDTO[]> => ctx.store.listProjectsFor(ctx.user.id)),

  create: authedProcedure
    .input(projectCreateInput)
    .use(rateLimit('projectCreate'))
    .mutation(({ ctx, input }): Promise<ProjectDTO> => ctx.store.createProject({ name: input.name, owner: ctx.user })),

  get: projectProcedure.query(async ({ ctx, input }): Promise<ProjectDetailDTO> => {
    const { project, memberIds } = await ctx.store.getProject(input.projectId);
    const members = await ctx.auth.usernames(memberIds);
    members.sort((a, b) => a.username.localeCompare(b.username));
    return { ...project, members };
  }),

  addMember: projectProcedure
    .input(projectAddMemberInput)
    .use(rateLimit('invite'))
    .mutation(async ({ ctx, input }): Promise<{ member: MemberDTO; added: boolean }> => {
      const member = await ctx.auth.findByUsername(input.username);
      if (!member) throw new TRPCError({ code: 'NOT_FOUND', message: `No user named "${input.username}"` });
      const added = await ctx.store.addMember(input.projectId, member);
      return { member, added };
    }),
});
