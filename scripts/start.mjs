// `npm start`: like `npm run dev`, but serves a production build with the production server
// (scripts/server.mjs: /api/trpc on tRPC's Node adapter, everything else through Next).
//
// Builds first when there is no build yet, when `--build` is passed, or when a source file is newer
// than the build (so `npm start` never silently serves stale code).
// Env: PORT (default 3000), REDIS_URL.
import { appPort, ensureDependencies, findOrStartRedis, runMain, runNext, runProductionServer, staleBuildReason } from './lib/app-launcher.mjs';

/** @returns {string | undefined} why a build is needed, or undefined if the current one is fine */
function buildReason() {
  if (process.argv.includes('--build')) return '--build was passed';
  return staleBuildReason();
}

const unknownArgs = process.argv.slice(2).filter((arg) => arg !== '--build');
if (unknownArgs.length > 0) {
  console.error(`Unknown argument(s): ${unknownArgs.join(' ')}\nUsage: npm start [-- --build]`);
  process.exit(2);
}

runMain(async () => {
  await ensureDependencies();
  const port = appPort();
  const redis = await findOrStartRedis();
  try {
    const reason = buildReason();
    if (reason) {
      console.log(`Parley: building (${reason}): next build`);
      const code = await runNext(['build'], { redisUrl: redis.url });
      if (code !== 0) return code;
    }
    return await runProductionServer({ redisUrl: redis.url, port, announcePort: true });
  } finally {
    await redis.release();
  }
});
