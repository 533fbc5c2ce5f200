import 'server-only';
import type { Redis } from 'ioredis';
import { ChatImport } from '~/server/chat/import';
import type { Queryable } from '~/server/durable/pg';
import { keys, legacyLedgerField, parseLegacyLedgerField } from '~/server/redis/keys';
import type { ScriptedRedis } from '~/server/redis/scripts';

/**
 * Removes exactly what the migration added, as its ledger records it, and nothing else:
 * - a session the migration created is deleted whole (record, bodies, ids, place in the session list
 *   and in the recent list), in one script that first checks every message in it is one the migration
 *   added; a session someone has written to since is kept, and reported;
 * - a project the migration created is deleted once it has no session left (with its members' index
 *   entries); a project with other sessions is kept, and reported;
 * - messages the migration added to a session it did not create cannot be removed without leaving a
 *   gap in that session's seqs: they are reported and left.
 * The event log is not rewritten: tabs that read an entry whose message is gone refetch (resync).
 *
 * With the durable tier on (`pg` given), the same rows leave PostgreSQL too, or a later read-through
 * would bring them back into Redis. That needs an empty outbox first (an entry still on its way would
 * write a removed row again after the delete), so rollback refuses while the outbox holds anything.
 */

export interface RollbackReport {
  sessionsRemoved: number;
  messagesRemoved: number;
  projectsRemoved: number;
  /** Things the migration added that were kept, with why: the operator decides. */
  kept: string[];
}

export async function rollback(target: ScriptedRedis, opts: { pg?: Queryable } = {}): Promise<RollbackReport> {
  const { pg } = opts;
  const store = new ChatImport(target, { eventLogMaxLen: 0, outboxKey: null });
  if (pg) {
    const backlog = await target.xlen(keys.outbox);
    if (backlog > 0) {
      throw new Error(
        `The outbox still holds ${backlog} entries on their way to PostgreSQL; roll back once it is empty ` +
          '(GET /api/health shows the lag). Nothing was changed.',
      );
    }
  }
  const ledger = await readLedger(target);
  const report: RollbackReport = { sessionsRemoved: 0, messagesRemoved: 0, projectsRemoved: 0, kept: [] };

  // Keyed by the session's own ledger field: one string per (project, session) pair.
  const messagesBySession = new Map<string, { pid: string; sid: string; mids: string[] }>();
  for (const [pid, mids] of ledger.messages) {
    for (const [mid, sid] of mids) {
      const k = legacyLedgerField.session(pid, sid);
      const entry = messagesBySession.get(k) ?? { pid, sid, mids: [] };
      entry.mids.push(mid);
      messagesBySession.set(k, entry);
    }
  }
  const done: string[] = [];
  for (const [pid, sid] of ledger.sessions) {
    const mids = messagesBySession.get(legacyLedgerField.session(pid, sid))?.mids ?? [];
    messagesBySession.delete(legacyLedgerField.session(pid, sid));
    const removed = await store.removeImportedSession(pid, sid, mids);
    if (!removed.removed) {
      report.kept.push(`session ${sid} of project ${pid}: message ${removed.foreignId} was not added by the migration`);
      continue;
    }
    await pg?.query('DELETE FROM messages WHERE project_id = $1 AND session_id = $2', [pid, sid]);
    await pg?.query('DELETE FROM sessions WHERE project_id = $1 AND id = $2', [pid, sid]);
    report.sessionsRemoved++;
    report.messagesRemoved += removed.messages;
    done.push(legacyLedgerField.session(pid, sid), ...mids.map((m) => legacyLedgerField.message(pid, m)));
  }
  for (const { pid, sid, mids } of messagesBySession.values()) {
    report.kept.push(`${mids.length} message(s) added to session ${sid} of project ${pid}, which existed before the migration`);
  }
  for (const pid of ledger.projects) {
    if (!(await store.removeImportedProject(pid))) {
      report.kept.push(`project ${pid}: it has sessions the migration did not add`);
      continue;
    }
    await pg?.query('DELETE FROM project_members WHERE project_id = $1', [pid]);
    await pg?.query('DELETE FROM projects WHERE id = $1', [pid]);
    report.projectsRemoved++;
    done.push(legacyLedgerField.project(pid));
  }
  for (let i = 0; i < done.length; i += 1000) await target.hdel(keys.legacyLedger, ...done.slice(i, i + 1000));
  return report;
}

interface Ledger {
  projects: string[];
  sessions: Array<[pid: string, sid: string]>;
  /** pid -> (message id -> session id) */
  messages: Map<string, Map<string, string>>;
}

async function readLedger(redis: Redis): Promise<Ledger> {
  const ledger: Ledger = { projects: [], sessions: [], messages: new Map() };
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.legacyLedger, cursor, 'COUNT', 2000);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const entry = parseLegacyLedgerField(flat[i]!);
      if (entry?.kind === 'project') ledger.projects.push(entry.pid);
      else if (entry?.kind === 'session') ledger.sessions.push([entry.pid, entry.sid]);
      else if (entry?.kind === 'message') {
        let m = ledger.messages.get(entry.pid);
        if (!m) ledger.messages.set(entry.pid, (m = new Map<string, string>()));
        m.set(entry.mid, flat[i + 1]!);
      }
    }
  } while (cursor !== '0');
  ledger.projects = [...new Set(ledger.projects)];
  ledger.sessions = [...new Map(ledger.sessions.map((s) => [legacyLedgerField.session(...s), s])).values()];
  return ledger;
}
