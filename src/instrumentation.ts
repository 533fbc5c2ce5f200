/**
 * Next.js calls register() once when a server process starts, before it serves requests. With
 * DATABASE_URL set it starts the durable tier (migrations, then the outbox consumer); with AI_BASE_URL
 * set it starts the AI PM worker (unless AI_WORKER=false). Then it hands the /api/trpc handler to
 * scripts/server.mjs (src/server/http/node-trpc.ts). NEXT_RUNTIME is read here directly, as Next
 * documents (it is set by Next itself, not configuration): the Node-only code is imported only in the
 * Node.js runtime.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    // Before any request is served: the per-IP limits need the TCP peer's address (see client-ip.ts).
    const { recordPeerAddress } = await import('./server/client-ip');
    recordPeerAddress();
    const { startDurableTier } = await import('./server/durable/boot');
    await startDurableTier();
    const { startAiWorker } = await import('./server/ai/boot');
    await startAiWorker();
    // The production server (scripts/server.mjs) serves /api/trpc with this handler from now on.
    const { publishNodeTrpcHandler } = await import('./server/http/node-trpc');
    publishNodeTrpcHandler();
  }
}
