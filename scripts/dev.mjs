// `npm run dev`: install what is missing, start (or reuse) Redis, run `next dev`.
//
// Redis: REDIS_URL if it answers PING; else the project's Redis on port 6390 (from redis.conf, data
// in .data/redis), reused if already running. A Redis this script started is stopped when it exits.
// AI PM: AI_BASE_URL if set; else a local Ollama when http://127.0.0.1:11434 answers (its first model,
// unless AI_MODEL names one); else the AI PM is off (the session header says so; the chat works).
// Env: PORT (default 3000), REDIS_URL, AI_BASE_URL, AI_MODEL.
import { appPort, ensureDependencies, findOrStartRedis, runMain, runNext } from './lib/app-launcher.mjs';

const OLLAMA_URL = 'http://127.0.0.1:11434/v1';

/** Points the AI PM at a local Ollama when nothing is configured and one answers. */
async function detectOllama() {
  if (process.env.AI_BASE_URL) return;
  try {
    const res = await fetch(`${OLLAMA_URL}/models`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return;
    const body = /** @type {{ data?: { id: string }[] }} */ (await res.json());
    const first = body.data?.[0]?.id;
    if (!process.env.AI_MODEL && !first) {
      console.log('  Ollama answers but has no model: `ollama pull llama3.2`, then restart. AI PM off.');
      return;
    }
    process.env.AI_BASE_URL = OLLAMA_URL;
    process.env.AI_MODEL ??= first;
    console.log(`  AI PM: Ollama at ${OLLAMA_URL}, model ${process.env.AI_MODEL}`);
  } catch {
    console.log('  AI PM off: no AI_BASE_URL and no Ollama on 127.0.0.1:11434 (the chat works without it).');
  }
}

runMain(async () => {
  await ensureDependencies();
  const port = appPort();
  const redis = await findOrStartRedis();
  await detectOllama();
  try {
    return await runNext(['dev', '-p', String(port)], { redisUrl: redis.url, port, announcePort: true });
  } finally {
    await redis.release();
  }
});
