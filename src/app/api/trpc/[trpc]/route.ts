import { handleTrpcRequest } from '~/server/http/trpc-handler';

// ioredis and the SSE streams need Node, and nothing here may be cached or prerendered.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * /api/trpc under `next dev` (and a bare `next start`). The production server (scripts/server.mjs)
 * answers /api/trpc itself before Next routes anything, with the same handler (see
 * src/server/http/node-trpc.ts for why).
 */
export { handleTrpcRequest as GET, handleTrpcRequest as POST };
