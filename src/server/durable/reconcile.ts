import 'server-only';
import type { StoredMessage } from '~/server/chat/codec';
import type { AppendMessageInput, AppendResult } from '~/server/chat/store';
import { isPgUnavailable } from '~/server/errors';
import { errorFields, logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import type { MessageDTO } from '~/shared/types';
import { withClient, type Pool } from './pg';
import type { PgStore } from './pg-store';
import { isRedisDown } from './tiered';

const log = logger('reconcile');

/** Advisory lock key: one process replays at a time, so the replay order is the send order. */
const REPLAY_LOCK = 7_301_114_602_771;
const BATCH = 200;

/**
 * Replays messages sent during a Redis outage (pending_messages) into Redis, oldest first, through
 * the normal idempotent append: Redis stays the seq authority, so they get the next seqs after
 * whatever Redis has - gap-free, none reused, and a message that reached Redis anyway (its send timed
 * out but landed) is found by id and not stored twice. Their `message.created` events reach the tabs
 * like any other (after a Redis that restarted empty, tabs get a `resync` and refetch).
 */
export class Reconciler {
  constructor(
    private readonly pool: Pool,
    private readonly pg: PgStore,
    private readonly append: (input: AppendMessageInput) => Promise<AppendResult>,
  ) {}

  /** Replays until nothing is pending. Returns how many it replayed (0 if another process holds the lock). */
  async replayAll(): Promise<number> {
    let replayed = 0;
    // The lock's connection is held across Redis appends (seconds while Redis struggles): withClient
    // keeps an 'error' listener on it, so PostgreSQL restarting meanwhile fails this pass, not the process.
    await withClient(this.pool, async (client, markBroken) => {
      const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [REPLAY_LOCK]);
      if (!locked.rows[0]?.ok) return;
      try {
        for (;;) {
          const batch = await this.pg.nextPending(BATCH);
          if (batch.length === 0) break;
          for (const pending of batch) {
            let result: AppendResult;
            try {
              result = await this.append(pending.input);
            } catch (err) {
              if (isRedisDown(err) || isPgUnavailable(err)) throw err;
              // Refused for good (the session is gone, the id names another message): keep it aside.
              await this.pg.failPending(pending, (err as Error).message);
              metrics().reconciled.inc({ outcome: 'failed' });
              log.error({ messageId: pending.input.id, ...errorFields(err) }, 'pending message could not be replayed');
              continue;
            }
            await this.pg.completePending(pending, {
              seq: result.message.seq,
              message: storedOf(result.message),
              outboxId: result.outboxId,
            });
            replayed++;
            metrics().reconciled.inc({ outcome: result.created ? 'replayed' : 'already_stored' });
          }
        }
      } finally {
        // Not unlocked: drop the connection (ending its session releases the lock) rather than pool it
        // with the lock still held, which would keep every other replay out.
        await client.query('SELECT pg_advisory_unlock($1)', [REPLAY_LOCK]).catch(markBroken);
      }
    });
    if (replayed > 0) log.info({ replayed }, 'messages sent during the Redis outage replayed into Redis');
    return replayed;
  }
}

function storedOf(m: MessageDTO): StoredMessage {
  const s: StoredMessage = {
    id: m.id,
    authorId: m.authorId,
    authorName: m.authorName,
    role: m.role,
    content: m.content,
    createdAt: m.createdAt,
  };
  if (m.updatedAt !== m.createdAt) s.updatedAt = m.updatedAt;
  if (Object.keys(m.metadata).length > 0) s.metadata = m.metadata;
  if (m.aiResponse) s.aiResponse = m.aiResponse;
  if (m.confidence !== null) s.confidence = m.confidence;
  if (m.status !== 'delivered') s.status = m.status;
  if (m.isEdited) s.isEdited = true;
  if (m.deleted) s.deleted = true;
  if (m.reactions.length > 0) s.reactions = m.reactions;
  return s;
}
