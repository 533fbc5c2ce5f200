/**
 * `npm run worker`: one AI PM worker on its own, without the web server (run with AI_WORKER=false on
 * the web processes to keep generation off them). Same settings as the app (env.ts). Stops cleanly on
 * SIGINT/SIGTERM: answers in progress are left to be reclaimed by another worker.
 */
import { logger } from '~/server/log';
import { startAiWorker } from './boot';

const log = logger('ai');

const worker = await startAiWorker({ force: true });
if (!worker) {
  log.error('no AI PM worker started (see above: AI_BASE_URL unset, or Redis unreachable)');
  process.exit(2);
}
const stop = () => {
  void worker.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
