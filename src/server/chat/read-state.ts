import 'server-only';
import { toAppError } from '~/server/errors';
import { pipelineBySlot } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { projectOutbox } from '~/server/redis/outbox-partitions';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import { PRESENCE } from '~/shared/limits';
import type { PresenceDTO, PresenceState } from '~/shared/types';

/** Who has the project open now (see PRESENCE in src/shared/limits.ts). */
export class Presence {
  constructor(private readonly redis: ScriptedRedis) {}

  async heartbeat(projectId: string, userId: string, state: PresenceState, now = Date.now()): Promise<number> {
    const until = now + PRESENCE.expiryMs;
    try {
      await scripts.presenceHeartbeat.run(this.redis, { projectId, userId, state, until, now });
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

/** Unread mentions of one user in a project: session id -> the seqs after their marker (oldest first). */
export type UnreadMentions = Record<string, number[]>;

/** Seqs listed per session by `mentions` (the badge shows "99+" past that). */
const MENTION_SEQS_MAX = 100;

/**
 * Per-user read markers: for each session the last seq the user has seen. Seqs are gap-free, so a
 * session's unread count is lastSeq - lastRead, O(1), whatever edits and deletes did (they keep seqs).
 * Unread mentions: the user's mention set of the session (keys.mentions) counted after the marker,
 * ZCOUNT, O(log n).
 * With the durable tier on (`outbox`), every move of a marker also goes to the project's outbox
 * partition, in the same script, and PostgreSQL keeps it (re-hydrated into a Redis that lost it).
 */
export class ReadState {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly outbox = false,
  ) {}

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
      return await scripts.markRead.run(this.redis, { ...input, announce: input.announce !== false, outbox: this.outbox ? projectOutbox(input.projectId) : null });
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

  /** Session id -> the seqs of its unread messages that mention the user (sessions with none absent). */
  async mentions(projectId: string, userId: string): Promise<UnreadMentions> {
    try {
      return await scripts.unreadMentions.run(this.redis, { projectId, userId, max: MENTION_SEQS_MAX });
    } catch (err) {
      throw toAppError(err);
    }
  }

  /** Unread messages and mentions per project (one script per project, pipelined: one round trip). */
  async unreadTotals(projectIds: string[], userId: string): Promise<UnreadTotals> {
    if (projectIds.length === 0) return {};
    let results: [Error | null, unknown][];
    try {
      // Each project's script runs in its own slot: one pipeline per slot on a cluster.
      results = await pipelineBySlot(this.redis, projectIds, (pipe, pid) => {
        scripts.unreadTotal.queue(pipe, { projectId: pid, userId });
      });
    } catch (err) {
      throw toAppError(err);
    }
    const out: UnreadTotals = {};
    projectIds.forEach((pid, i) => {
      const [err, pair] = results?.[i] ?? [new Error('no answer'), null];
      if (err) throw toAppError(err);
      out[pid] = scripts.unreadTotal.reply(pair);
    });
    return out;
  }
}
