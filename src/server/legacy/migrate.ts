import 'server-only';
import type { Redis } from 'ioredis';
import { ChatImport, type ImportedMessage } from '~/server/chat/import';
import type { Author } from '~/server/chat/store';
import { keys, legacyLedgerField } from '~/server/redis/keys';
import type { ScriptedRedis } from '~/server/redis/scripts';
import type { ReactionDTO } from '~/shared/types';
import { writeBackup } from './backup';
import { legacyTimeToIso, parseLegacyTime } from './format';
import { parleyIdFor } from './ids';
import { countMessages, readSource, type SourceMessage, type SourceSession, type SourceSnapshot } from './source';

/**
 * The migration from the old storage: dry run, apply (backup first, then import through the
 * ChatStore's import entry point, recording every addition in the ledger before making it), validate,
 * and rollback. The source is only ever read here (restoring it is backup.ts's restoreBackup).
 *
 * Mapping rules (README, "Migrating from the old storage"):
 * - ids: a legacy id that is a UUID is kept; any other becomes a name-based UUID (ids.ts), the same on
 *   every run. Projects are created as "Imported <legacy id>", owned by the `--owner` account.
 * - authors: `role: "ai_pm"` messages are the AI PM's (author id `ai_pm`); a user message whose
 *   `user_id` (or metadata.user_id / metadata.username) is the username of a Parley account is theirs;
 *   every other user message is the owner's (the old data has no accounts).
 * - order: by created_at (microseconds), list order breaking ties; seqs are assigned by the store.
 */

export const AI_PM_AUTHOR: Author = { id: 'ai_pm', username: 'AI PM' };
const BATCH = 500;
const SESSIONS_AT_ONCE = 4;

export interface Progress {
  start(total: number): void;
  advance(n: number): void;
  finish(): void;
}

const silent: Progress = { start: () => undefined, advance: () => undefined, finish: () => undefined };

export interface SessionPlan {
  legacyProjectId: string;
  legacySessionId: string;
  projectId: string;
  sessionId: string;
  title: string;
  messages: number;
  expired: number;
}

export interface DryRunReport {
  projects: number;
  sessions: SessionPlan[];
  messages: number;
  expired: Array<{ project: string; session: string; id: string }>;
  skipped: SourceSnapshot['skipped'];
  otherMemory: Record<string, number>;
  keys: number;
}

export function planOf(snap: SourceSnapshot): DryRunReport {
  const sessions: SessionPlan[] = [];
  const expired: DryRunReport['expired'] = [];
  for (const p of snap.projects.values()) {
    const projectId = parleyIdFor('project', p.legacyProjectId);
    for (const s of p.sessions.values()) {
      sessions.push({
        legacyProjectId: p.legacyProjectId,
        legacySessionId: s.legacySessionId,
        projectId,
        sessionId: parleyIdFor('session', s.legacySessionId, p.legacyProjectId),
        title: s.title,
        messages: s.messages.length,
        expired: s.expired.length,
      });
      for (const id of s.expired) expired.push({ project: p.legacyProjectId, session: s.legacySessionId, id });
    }
  }
  return {
    projects: snap.projects.size,
    sessions,
    messages: countMessages(snap),
    expired,
    skipped: snap.skipped,
    otherMemory: snap.otherMemory,
    keys: snap.keysRead.length,
  };
}

export async function dryRun(source: Redis, opts: { project?: string | undefined } = {}): Promise<DryRunReport> {
  return planOf(await readSource(source, opts));
}

export interface ApplyOptions {
  project?: string | undefined;
  /** Username of the Parley account that owns created projects and authors unmapped user messages. */
  owner: string;
  backupFile: string;
  /** Where the source is, for the backup header (no credentials). */
  sourceLabel: string;
  eventLogMaxLen: number;
  /** The outbox stream with the durable tier on: imported messages then reach PostgreSQL. */
  outboxKey: string | null;
  progress?: Progress;
  /** How many bytes are free in a directory (default: statfs); tests pass a small number. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Test hook: runs after each batch is acknowledged (a test throws here to crash mid-run). */
  afterBatch?: (imported: number) => void | Promise<void>;
}

export interface ApplyReport extends DryRunReport {
  backup: { file: string; keys: number; bytes: number };
  projectsCreated: number;
  sessionsCreated: number;
  imported: number;
  /** Already in Parley from an earlier (possibly interrupted) run of this migration. */
  alreadyImported: number;
  /** Already in Parley, not added by this migration (e.g. imported from a browser first). */
  alreadyPresent: number;
  conflicts: Array<{ id: string; reason: string }>;
  seconds: number;
}

export async function apply(source: Redis, target: ScriptedRedis, opts: ApplyOptions): Promise<ApplyReport> {
  const started = performance.now();
  const progress = opts.progress ?? silent;
  const owner = await accountByUsername(target, opts.owner);
  if (!owner) throw new Error(`--owner ${opts.owner}: no Parley account has this username (sign up first)`);

  const snap = await readSource(source, { project: opts.project });
  const plan = planOf(snap);
  // Backup first: nothing is imported unless every key read is safely on disk.
  const backup = await writeBackup(source, snap.keysRead, opts.backupFile, opts.sourceLabel, opts.freeBytes);

  const importer = new ChatImport(target, { eventLogMaxLen: opts.eventLogMaxLen, outboxKey: opts.outboxKey });
  const authors = new Map<string, Author | null>();
  const report: ApplyReport = {
    ...plan,
    backup,
    projectsCreated: 0,
    sessionsCreated: 0,
    imported: 0,
    alreadyImported: 0,
    alreadyPresent: 0,
    conflicts: [],
    seconds: 0,
  };
  progress.start(plan.messages);
  const jobs: Array<{ legacyProjectId: string; projectId: string; session: SourceSession }> = [];
  for (const p of snap.projects.values()) {
    const projectId = parleyIdFor('project', p.legacyProjectId);
    const sessions = [...p.sessions.values()].sort((a, b) => firstTime(a) - firstTime(b));
    const earliest = sessions.length > 0 ? isoOfMicros(firstTime(sessions[0]!)) : new Date().toISOString();
    if (!(await importer.projectExists(projectId))) {
      await target.hset(keys.legacyLedger, legacyLedgerField.project(projectId), JSON.stringify({ legacyId: p.legacyProjectId }));
      if (
        await importer.ensureProject({ id: projectId, name: `Imported ${p.legacyProjectId}`.slice(0, 100), owner, createdAt: earliest })
      ) {
        report.projectsCreated++;
      }
    }
    for (const session of sessions) jobs.push({ legacyProjectId: p.legacyProjectId, projectId, session });
  }

  let failed = false;
  const importSession = async ({ legacyProjectId, projectId, session: s }: (typeof jobs)[number]) => {
    const sessionId = parleyIdFor('session', s.legacySessionId, legacyProjectId);
    if (!(await importer.sessionExists(projectId, sessionId))) {
      await target.hset(keys.legacyLedger, legacyLedgerField.session(projectId, sessionId), JSON.stringify({ legacyId: s.legacySessionId }));
      const created = await importer.ensureSession({
        projectId,
        id: sessionId,
        title: cleanText(s.title),
        description: s.description ? cleanText(s.description) : undefined,
        createdAt: sessionCreatedAt(s),
        createdBy: owner.id,
        metadata: { importedFrom: 'legacy-redis', legacyId: s.legacySessionId },
      });
      if (created) report.sessionsCreated++;
    }
    // Batches of one session one after the other: that is what keeps the old order in the seqs.
    for (let i = 0; i < s.messages.length && !failed; i += BATCH) {
      const chunk = s.messages.slice(i, i + BATCH);
      const ids = chunk.map((m) => parleyIdFor('message', m.legacyId, legacyProjectId));
      const [present, ledgered] = await Promise.all([
        importer.messagesPresent(projectId, ids),
        target.hmget(keys.legacyLedger, ...ids.map((id) => legacyLedgerField.message(projectId, id))),
      ]);
      const toImport: ImportedMessage[] = [];
      for (const [j, m] of chunk.entries()) {
        if (present[j]) {
          if (ledgered[j] !== null) report.alreadyImported++;
          else report.alreadyPresent++;
          continue;
        }
        toImport.push({
          ...(await toImported(target, m, { projectId, sessionId, id: ids[j]!, owner, authors })),
          intent: { key: keys.legacyLedger, field: legacyLedgerField.message(projectId, ids[j]!), value: sessionId },
        });
      }
      for (const outcome of await importer.importMessages(toImport)) {
        if (outcome.outcome === 'created') report.imported++;
        else if (outcome.outcome === 'existing') report.alreadyImported++;
        else if (outcome.outcome === 'conflict') report.conflicts.push({ id: outcome.id, reason: outcome.reason });
      }
      progress.advance(chunk.length);
      await opts.afterBatch?.(report.imported);
    }
  };
  // Several sessions at once, so one session's round trips overlap another's work. On a failure the
  // others stop after their current batch, and the first error is what the caller sees.
  let next = 0;
  const worker = async () => {
    while (!failed && next < jobs.length) {
      try {
        await importSession(jobs[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(SESSIONS_AT_ONCE, jobs.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  progress.finish();
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

async function toImported(
  target: ScriptedRedis,
  sm: SourceMessage,
  ctx: { projectId: string; sessionId: string; id: string; owner: Author; authors: Map<string, Author | null> },
): Promise<ImportedMessage> {
  const m = sm.message;
  const metadata: Record<string, unknown> = { ...(m.metadata ?? {}), importedFrom: 'legacy-redis' };
  if (ctx.id !== m.id) metadata.legacyId = m.id;
  const { reactions, unmapped } = mapReactions(m.reactions ?? [], ctx.owner.id);
  if (unmapped.length > 0) metadata.legacyReactions = unmapped;
  let author = ctx.owner;
  if (m.role === 'ai_pm') author = AI_PM_AUTHOR;
  else {
    const name = legacyUserName(m);
    if (name) {
      if (!ctx.authors.has(name)) ctx.authors.set(name, await accountByUsername(target, name));
      author = ctx.authors.get(name) ?? ctx.owner;
    }
  }
  const updatedAt = m.updated_at && parseLegacyTime(m.updated_at) !== null ? legacyTimeToIso(m.updated_at) : undefined;
  const confidence = m.confidence ?? (typeof m.ai_response?.confidence === 'number' ? m.ai_response.confidence : undefined);
  return {
    projectId: ctx.projectId,
    sessionId: ctx.sessionId,
    id: ctx.id,
    content: m.content,
    author,
    role: m.role,
    createdAt: legacyTimeToIso(m.created_at),
    updatedAt,
    metadata,
    aiResponse: m.ai_response ?? undefined,
    confidence,
    isEdited: m.is_edited ?? false,
    reactions,
  };
}

function legacyUserName(m: SourceMessage['message']): string | null {
  const candidates = [m.user_id, m.metadata?.user_id, m.metadata?.username];
  for (const c of candidates) if (typeof c === 'string' && c.trim()) return c.trim();
  return null;
}

function mapReactions(raw: Record<string, unknown>[], ownerId: string): { reactions: ReactionDTO[]; unmapped: unknown[] } {
  const reactions: ReactionDTO[] = [];
  const unmapped: unknown[] = [];
  for (const r of raw) {
    const emoji = r.emoji;
    const user = r.user_id ?? r.userId;
    if (typeof emoji === 'string' && emoji) reactions.push({ emoji, userId: typeof user === 'string' ? user : ownerId });
    else unmapped.push(r);
  }
  return { reactions, unmapped };
}

export async function accountByUsername(redis: Redis, username: string): Promise<Author | null> {
  const id = await redis.get(keys.username(username));
  if (!id) return null;
  const name = await redis.hget(keys.user(id), 'username');
  return name ? { id, username: name } : null;
}

function firstTime(s: SourceSession): number {
  return s.messages[0]?.time ?? (s.createdAt ? (parseLegacyTime(s.createdAt) ?? Date.now() * 1000) : Date.now() * 1000);
}

function sessionCreatedAt(s: SourceSession): string {
  if (s.createdAt && parseLegacyTime(s.createdAt) !== null) return legacyTimeToIso(s.createdAt);
  return isoOfMicros(firstTime(s));
}

function isoOfMicros(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

/** Titles must be storable in PostgreSQL too (no NUL, no broken Unicode). */
function cleanText(s: string): string {
  return s.replaceAll('\u0000', '').toWellFormed();
}
