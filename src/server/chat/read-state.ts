import 'server-only';
import { toAppError } from '~/server/errors';
import { keys, sessionKeyPrefix } from '~/server/redis/keys';
import type { ScriptedRedis } from '~/server/redis/scripts';

/**
 * Per-user read markers: for each session the last seq the user has seen. Seqs are gap-free, so a
 * session's unread count is lastSeq - lastRead, O(1), whatever edits and deletes did (they keep seqs).
 * Kept in Redis only (not in the durable tier's outbox): losing one marks messages unread again,
 * never loses a message.
 */
export class ReadState {
  constructor(private readonly redis: ScriptedRedis) {}

  /**
   * Moves the marker to `seq` (capped at the session's last seq); never backwards. `knownLastSeq` is
   * the session's last seq as the caller read it, used when the session is evicted from Redis.
   * `announce: false` when the user's own `message.created` already tells their tabs (clients move
   * the marker past their own messages themselves). Returns the marker after the call.
   */
  async markRead(input: {
    projectId: string;
    sessionId: string;
    userId: string;
    seq: number;
    knownLastSeq: number;
    announce?: boolean;
  }): Promise<number> {
    try {
      return await this.redis.parleyMarkRead(
        keys.reads(input.projectId, input.userId),
        keys.session(input.projectId, input.sessionId),
        input.sessionId,
        input.seq,
        input.knownLastSeq,
        keys.userSignals(input.userId),
        input.projectId,
        input.announce === false ? '0' : '1',
      );
    } catch (err) {
      throw toAppError(err);
    }
  }

  /** Session id -> last-read seq (sessions never read are absent: 0). */
  async markers(projectId: string, userId: string): Promise<Record<string, number>> {
    try {
      const flat = await this.redis.hgetall(keys.reads(projectId, userId));
      return Object.fromEntries(Object.entries(flat).map(([sid, seq]) => [sid, Number(seq)]));
    } catch (err) {
      throw toAppError(err);
    }
  }

  /** Unread messages per project (one script per project, pipelined: one round trip). */
  async unreadTotals(projectIds: string[], userId: string): Promise<Record<string, number>> {
    if (projectIds.length === 0) return {};
    const pipe = this.redis.pipeline() as unknown as ScriptedRedis & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const pid of projectIds) void pipe.parleyUnreadTotal(keys.sessions(pid), keys.reads(pid, userId), sessionKeyPrefix(pid));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      throw toAppError(err);
    }
    const out: Record<string, number> = {};
    projectIds.forEach((pid, i) => {
      const [err, n] = results?.[i] ?? [new Error('no answer'), 0];
      if (err) throw toAppError(err);
      out[pid] = Number(n);
    });
    return out;
  }
}
