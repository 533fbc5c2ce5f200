import 'server-only';
import { getServices } from '~/server/context';
import { env } from '~/server/env';
import { errorFields, logger } from '~/server/log';
import { createRedis } from '~/server/redis/client';
import { aiEnabled, aiSettings } from './settings';
import { AiWorker } from './worker';

const log = logger('ai');

const globalForAi = globalThis as unknown as { parleyAiWorker?: Promise<AiWorker | null> };

/**
 * Starts this process's AI PM worker (from src/instrumentation.ts, or `npm run worker`): once per
 * process (kept on globalThis: a dev hot reload must not start a second one). Nothing when the AI PM
 * is off (no AI_BASE_URL) or AI_WORKER=false.
 */
export function startAiWorker(opts: { force?: boolean } = {}): Promise<AiWorker | null> {
  globalForAi.parleyAiWorker ??= (async () => {
    if (!aiEnabled()) {
      log.info('AI PM off: set AI_BASE_URL to an OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for Ollama)');
      return null;
    }
    if (!env.AI_WORKER && !opts.force) {
      log.info('AI PM on, no worker in this process (AI_WORKER=false)');
      return null;
    }
    const services = getServices();
    const worker = new AiWorker({ redis: services.redis, store: services.store, subscriber: () => createRedis() });
    await worker.start();
    log.info({ model: aiSettings().model, worker: worker.name }, 'AI PM worker running');
    return worker;
  })().catch((err: unknown) => {
    // Redis is down at start: the app serves anyway (sends fail fast); try again shortly.
    log.error({ ...errorFields(err) }, 'AI PM worker failed to start; retrying in 5 s');
    if (!opts.force) {
      setTimeout(() => {
        globalForAi.parleyAiWorker = undefined;
        void startAiWorker(opts);
      }, 5000).unref();
    }
    return null;
  });
  return globalForAi.parleyAiWorker;
}
