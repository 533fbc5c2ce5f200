import 'server-only';
import { createCallerFactory, router } from './init';
import { authRouter } from './routers/auth';
import { chatRouter } from './routers/chat';
import { eventsRouter } from './routers/events';
import { legacyRouter } from './routers/legacy';
import { messageRouter } from './routers/message';
import { projectRouter } from './routers/project';
import { sessionRouter } from './routers/session';

export const appRouter = router({
  auth: authRouter,
  project: projectRouter,
  session: sessionRouter,
  message: messageRouter,
  chat: chatRouter,
  events: eventsRouter,
  legacy: legacyRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
