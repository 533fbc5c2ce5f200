import 'server-only';
import { decodeMessage, decodeSession } from '~/server/chat/codec';
import { byActivity, projectRecords, type StoreCommand } from '~/server/chat/store';
import { toAppError } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { scripts, type ScriptedRedis } from '~/server/redis/scripts';
import { LIMITS } from '~/shared/limits';
import type { MessageDTO, ProjectDTO, SessionDTO } from '~/shared/types';

/**
 * The durable tier's own reads of Redis: like the ChatStore's lists, plus what the list names but
 * Redis does not hold (lost data, idle eviction), so the tier can bring exactly that back from
 * PostgreSQL. Private to durable/: the store itself lists what is there and knows nothing of repairs.
 */

async function run<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}

/** The user's projects, how many ids their index holds, and the ids whose record is absent. */
export async function readProjectsOf(
  redis: ScriptedRedis,
  userId: string,
): Promise<{ projects: ProjectDTO[]; indexed: number; missing: string[] }> {
  const ids = await run(() => redis.zrevrange(keys.userProjects(userId), 0, -1));
  const records = await run(() => projectRecords(redis, ids));
  return {
    projects: byActivity(records.filter((p) => p !== null)),
    indexed: ids.length,
    missing: ids.filter((_, i) => records[i] === null),
  };
}

/** Sessions by most recent activity first, the ids the index names whose record is absent, and the index's order. */
export async function readSessions(
  redis: ScriptedRedis,
  projectId: string,
  limit: number,
): Promise<{ sessions: SessionDTO[]; missing: string[]; order: string[] }> {
  const listed = await run(() => scripts.listSessions.run(redis, { projectId, limit }));
  return {
    sessions: listed.filter(({ record }) => record.id).map(({ record }) => decodeSession(projectId, record)),
    missing: listed.filter(({ record }) => !record.id).map(({ sessionId }) => sessionId),
    order: listed.map(({ sessionId }) => sessionId),
  };
}

export interface RecentRead {
  items: MessageDTO[];
  missingSessions: string[];
}

/** The project's newest messages (oldest first), and the sessions whose bodies Redis lacks. */
export function readRecent(redis: ScriptedRedis, projectId: string, limit: number): Promise<RecentRead> {
  return recentCommand(redis, projectId, limit).run();
}

/** readRecent as a StoreCommand (a re-hydration's call may answer it). */
export function recentCommand(redis: ScriptedRedis, projectId: string, limit: number): StoreCommand<RecentRead> {
  const args = { projectId, limit: Math.min(limit, LIMITS.projectRecentMax) };
  const answer = ({ messages, missingSessions }: { messages: { sessionId: string; seq: number; body: string }[]; missingSessions: string[] }) => ({
    items: messages.map((m) => decodeMessage(projectId, m.sessionId, m.seq, m.body)).reverse(),
    missingSessions,
  });
  return {
    writes: false,
    replies: 1,
    queue: (p) => scripts.recentMessages.queue(p, args),
    result: ([entry]) => {
      if (!entry || entry[0]) throw toAppError(entry?.[0] ?? new Error('missing reply'));
      return answer(scripts.recentMessages.reply(entry[1]));
    },
    run: async () => answer(await run(() => scripts.recentMessages.run(redis, args))),
  };
}
