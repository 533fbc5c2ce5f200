import 'server-only';
import { toAppError } from '~/server/errors';
import { keys, sessionKeyPrefix } from '~/server/redis/keys';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { PRESENCE } from '~/shared/limits';
import type { PresenceDTO, PresenceState } from '~/shared/types';

/** Who has the project open now (see PRESENCE in src/shared/limits.ts). */
export class Presence {
  constructor(private readonly redis: ScriptedRedis) {}

  async heartbeat(projectId: string, userId: string, state: PresenceState, now = Date.now()): Promise<number> {
    const until = now + PRESENCE.expiryMs;
    try {
      await this.redis.parleyPresenceHeartbeat(
        keys.presence(projectId),
        keys.presenceState(projectId),
        userId,
        state,
        until,
        now,
        keys.projectSignals(projectId),
        projectId,
      );
    } catch (err) {
      throw toAppError(err);
    }
    return until;
  }

  async list(projectId: string, now = Date.now()): Promise<PresenceDTO[]> {
    try {
      const flat = await this.redis.zrangebyscore(keys.presence(projectId), now + 1, '+inf', 'WITHSCORES');
      const ids = flat.filter((_, i) => i % 2 === 0);
      const states = ids.length > 0 ? await this.redis.hmget(keys.presenceState(projectId), ...ids) : [];
      return ids.map((userId, i) => ({
        userId,
        state: states[i] === 'idle' ? 'idle' : 'active',
        until: Number(flat[i * 2 + 1]),
      }));
    } catch (err) {
      throw toAppError(err);
    }
  }
}

/** Per project: the user's unread messages and, among them, those that mention the user. */
export type UnreadTotals = Record<string, { unread: number; mentions: number }>;

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

  /** Unread messages and mentions per project (one script per project, pipelined: one round trip). */
  async unreadTotals(projectIds: string[], userId: string): Promise<UnreadTotals> {
    if (projectIds.length === 0) return {};
    const pipe = this.redis.pipeline() as unknown as ScriptedRedis & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const pid of projectIds) void pipe.parleyUnreadTotal(keys.sessions(pid), keys.reads(pid, userId), sessionKeyPrefix(pid));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      throw toAppError(err);
    }
    const out: UnreadTotals = {};
    projectIds.forEach((pid, i) => {
      const [err, n] = results?.[i] ?? [new Error('no answer'), 0];
      if (err) throw toAppError(err);
      out[pid] = { unread: Number(n), mentions: 0 };
    });
    return out;
  }
}
