import 'server-only';
import { getDurableTier } from '~/server/context';
import { env } from '~/server/env';
import { errorFields, hostOf, logger } from '~/server/log';
import { defaultRedisTarget, getRedis } from '~/server/redis/client';
import { backfillOutbox } from './backfill';
import { startOutboxConsumer, type OutboxConsumer } from './consumer';
import { migrateUntilDone } from './migrate';

const log = logger('durable');

/** How long server start waits for PostgreSQL before serving anyway (the rest goes on in the background). */
const START_WAIT_MS = 15_000;

const globalForBoot = globalThis as unknown as { parleyDurableBoot?: Promise<OutboxConsumer | null> };

/**
 * Starts the durable tier in this server process (from src/instrumentation.ts): migrations first,
 * then the outbox consumer, then (once per Redis dataset) the backfill of data Redis held before the
 * tier was switched on. Without DATABASE_URL it does nothing. Once per process (kept on
 * globalThis: dev hot reload must not start a second consumer).
 *
 * Start never blocks on PostgreSQL for long: the app serves from Redis, and every write keeps landing
 * in the outbox, while migrations retry in the background; the consumer starts once they are done.
 */
export async function startDurableTier(): Promise<void> {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) return;
  globalForBoot.parleyDurableBoot ??= (async () => {
    getDurableTier();
    if (env.DATABASE_MIGRATE_ON_START) await migrateUntilDone(databaseUrl);
    if (!env.OUTBOX_CONSUMER) {
      log.info({ postgres: hostOf(databaseUrl) }, 'durable tier on (no outbox consumer in this process)');
      return null;
    }
    const consumer = await startOutboxConsumer({
      redisUrl: defaultRedisTarget(),
      pool: getDurableTier()!.pg.pool,
      batchSize: env.OUTBOX_BATCH_SIZE,
      claimIdleMs: env.OUTBOX_CLAIM_IDLE_MS,
      maxDeliveries: env.OUTBOX_MAX_DELIVERIES,
    });
    log.info({ postgres: hostOf(databaseUrl), consumer: consumer.name }, 'durable tier on');
    // First start with the tier on for this Redis: copy what it already holds (once per dataset).
    void backfillOutbox(getRedis()).catch(() => undefined);
    return consumer;
  })().catch((err: unknown) => {
    log.error({ ...errorFields(err) }, 'durable tier failed to start');
    return null;
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    globalForBoot.parleyDurableBoot,
    new Promise((resolve) => {
      timer = setTimeout(resolve, START_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}
