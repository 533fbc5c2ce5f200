import 'server-only';
import { clearedSessionCookie, sessionCookie } from '~/server/auth/cookie';
import { credentialsInput } from '~/shared/schemas';
import type { UserDTO, Viewer } from '~/shared/types';
import { publicProcedure, router } from '../init';
import { rateLimit } from '../limits';

export const authRouter = router({
  signUp: publicProcedure.use(rateLimit('signUp')).input(credentialsInput).mutation(async ({ ctx, input }): Promise<UserDTO> => {
    const user = await ctx.auth.signUp(input.username, input.password);
    ctx.setCookie(sessionCookie(await ctx.auth.startSession(user)));
    return user;
  }),

  signIn: publicProcedure.use(rateLimit('signIn')).input(credentialsInput).mutation(async ({ ctx, input }): Promise<UserDTO> => {
    const user = await ctx.auth.verifyCredentials(input.username, input.password, ctx.clientIp);
    ctx.setCookie(sessionCookie(await ctx.auth.startSession(user)));
    return user;
  }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.sessionToken) await ctx.auth.endSession(ctx.sessionToken);
    ctx.setCookie(clearedSessionCookie());
    return { ok: true as const };
  }),

  /** The signed-in user, or null when signed out (not an error: the home page asks this first). */
  me: publicProcedure.query(async ({ ctx }): Promise<Viewer | null> => {
    if (!ctx.sessionToken) return null;
    const user = await ctx.auth.userForToken(ctx.sessionToken);
    return user ? { id: user.id, username: user.username } : null;
  }),
});
