import 'server-only';
import type { Redis } from 'ioredis';
import { ChatImport } from '~/server/chat/import';
import type { ScriptedRedis } from '~/server/redis/scripts';
import type { MessageDTO } from '~/shared/types';
import { legacyTimeToIso } from './format';
import { parleyIdFor } from './ids';
import { readSource } from './source';

/**
 * Compares the old storage with Parley, session by session: every message the source holds must be in
 * its Parley session exactly once, with the same content, role, time and AI response, and in the same
 * order. Expired bodies are shown (they cannot be imported) but are not a difference.
 */

export interface ValidateRow {
  project: string;
  session: string;
  source: number;
  expired: number;
  target: number;
  missing: number;
  duplicated: number;
  changed: number;
  outOfOrder: number;
  ok: boolean;
}

export interface ValidateReport {
  rows: ValidateRow[];
  ok: boolean;
  /** Up to 50 examples of differences, for the operator. */
  problems: string[];
}

export async function validate(
  source: Redis,
  target: ScriptedRedis,
  opts: { project?: string | undefined } = {},
): Promise<ValidateReport> {
  const snap = await readSource(source, opts);
  const store = new ChatImport(target, { eventLogMaxLen: 0, outbox: false });
  const rows: ValidateRow[] = [];
  const problems: string[] = [];
  const note = (s: string) => {
    if (problems.length < 50) problems.push(s);
  };
  for (const p of snap.projects.values()) {
    const projectId = parleyIdFor('project', p.legacyProjectId);
    for (const s of p.sessions.values()) {
      const sessionId = parleyIdFor('session', s.legacySessionId, p.legacyProjectId);
      const stored = await store.sessionMessages(projectId, sessionId);
      const byId = new Map<string, MessageDTO[]>();
      for (const m of stored) byId.set(m.id, [...(byId.get(m.id) ?? []), m]);
      const row: ValidateRow = {
        project: p.legacyProjectId,
        session: s.legacySessionId,
        source: s.messages.length,
        expired: s.expired.length,
        target: stored.length,
        missing: 0,
        duplicated: 0,
        changed: 0,
        outOfOrder: 0,
        ok: true,
      };
      let lastSeq = 0;
      for (const sm of s.messages) {
        const id = parleyIdFor('message', sm.legacyId, p.legacyProjectId);
        const found = byId.get(id) ?? [];
        if (found.length === 0) {
          row.missing++;
          note(`${p.legacyProjectId}/${s.legacySessionId}: message ${sm.legacyId} is missing`);
          continue;
        }
        if (found.length > 1) {
          row.duplicated++;
          note(`${p.legacyProjectId}/${s.legacySessionId}: message ${sm.legacyId} is there ${found.length} times`);
        }
        const m = found[0]!;
        const old = sm.message;
        const same =
          m.content === old.content &&
          m.role === old.role &&
          m.createdAt === legacyTimeToIso(old.created_at) &&
          JSON.stringify(m.aiResponse) === JSON.stringify(old.ai_response ?? null);
        if (!same) {
          row.changed++;
          note(`${p.legacyProjectId}/${s.legacySessionId}: message ${sm.legacyId} differs from the source`);
        }
        if (m.seq < lastSeq) {
          row.outOfOrder++;
          note(`${p.legacyProjectId}/${s.legacySessionId}: message ${sm.legacyId} (seq ${m.seq}) is out of order`);
        }
        lastSeq = Math.max(lastSeq, m.seq);
      }
      row.ok = row.missing === 0 && row.duplicated === 0 && row.changed === 0 && row.outOfOrder === 0;
      rows.push(row);
    }
  }
  return { rows, ok: rows.every((r) => r.ok), problems };
}

/** The table --validate prints. */
export function formatValidateTable(report: ValidateReport): string {
  const header = ['project', 'session', 'source', 'expired', 'in Parley', 'missing', 'duplicated', 'changed', 'out of order', 'result'];
  const body = report.rows.map((r) => [
    r.project,
    r.session,
    String(r.source),
    String(r.expired),
    String(r.target),
    String(r.missing),
    String(r.duplicated),
    String(r.changed),
    String(r.outOfOrder),
    r.ok ? 'ok' : 'DIFFERENT',
  ]);
  const total = (f: (r: ValidateRow) => number) => String(report.rows.reduce((n, r) => n + f(r), 0));
  body.push([
    'total',
    `${report.rows.length} sessions`,
    total((r) => r.source),
    total((r) => r.expired),
    total((r) => r.target),
    total((r) => r.missing),
    total((r) => r.duplicated),
    total((r) => r.changed),
    total((r) => r.outOfOrder),
    report.ok ? 'ok' : 'DIFFERENT',
  ]);
  return formatTable(header, body);
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= 2 && /^\d+$/.test(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
