// `npm run dev`: install what is missing, start (or reuse) Redis, run `next dev`.
//
// Redis: REDIS_URL if it answers PING; else the project's Redis on port 6390 (from redis.conf, data
// in .data/redis), reused if already running. A Redis this script started is stopped when it exits.
// Env: PORT (default 3000), REDIS_URL.
import { appPort, ensureDependencies, findOrStartRedis, runMain, runNext } from './lib/app-launcher.mjs';

runMain(async () => {
  await ensureDependencies();
  const port = appPort();
  const redis = await findOrStartRedis();
  try {
    return await runNext(['dev', '-p', String(port)], { redisUrl: redis.url, port, announcePort: true });
  } finally {
    await redis.release();
  }
});
