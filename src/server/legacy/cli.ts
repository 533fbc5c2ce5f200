/**
 * `npm run migrate:legacy -- --from redis://old-host:6379 [--dry-run | --apply | --validate | --rollback
 * | --restore <file>] [--project <pid>] [--owner <username>] [--backup-dir <dir>] [--to redis://...]`
 *
 * Moves chat history from the old product's Redis into Parley (README: "Migrating from the old
 * storage"). The target is Parley's Redis (REDIS_URL unless --to; never a cluster: see CLUSTER_REFUSAL); with DATABASE_URL set, imported
 * messages also go through the outbox to PostgreSQL, like every other write.
 */
import 'server-only';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createPool } from '~/server/durable/pg';
import { env } from '~/server/env';
import { clusterNodesOf, createRedis, defaultRedisTarget } from '~/server/redis/client';
import { formatBytes, restoreBackup } from './backup';
import { apply, dryRun, type DryRunReport, type Progress } from './migrate';
import { rollback } from './rollback';
import { formatTable, formatValidateTable, validate } from './validate';

const USAGE = `Usage: npm run migrate:legacy -- --from redis://<old redis> <step> [options]

Steps (one):
  --dry-run            print what would be imported (projects, sessions, messages, skipped and why); changes nothing
  --apply              back up every source key, then import (idempotent: a rerun imports nothing twice)
  --validate           compare source and Parley per session; exit code 1 on any difference
  --rollback           remove exactly what --apply added (from the migration ledger); the source is not touched
  --restore <file>     put the source keys of a backup file back into the --from Redis

Options:
  --project <pid>      only this legacy project
  --owner <username>   Parley account that owns imported projects and authors unmapped user messages (--apply)
  --backup-dir <dir>   where --apply writes its backup (default ./legacy-backups)
  --to <redis url>     Parley's Redis, standalone (default: REDIS_URL, ${env.REDIS_URL}; a cluster is refused)`;

/**
 * The import writes its ledger (`parley:legacy:ledger`, one key) in the same pipeline and MULTI as the
 * imported projects' keys, which a Redis Cluster refuses (they lie in other slots); so it runs against
 * a standalone Redis only, and refuses a cluster before touching anything.
 */
const CLUSTER_REFUSAL = `The legacy import cannot write to a Redis Cluster (REDIS_CLUSTER_NODES or --to redis+cluster://...):
its ledger and the imported projects lie in different hash slots, which one pipeline cannot span there.
Import into a standalone Redis (--to redis://...), validate there, then move the data to the cluster
(README: "Scaling out").`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'dry-run': { type: 'boolean' },
        apply: { type: 'boolean' },
        validate: { type: 'boolean' },
        rollback: { type: 'boolean' },
        restore: { type: 'string' },
        project: { type: 'string' },
        owner: { type: 'string' },
        'backup-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const steps = (['dry-run', 'apply', 'validate', 'rollback', 'restore'] as const).filter((s) => args[s] !== undefined);
  if (steps.length !== 1) return usage('Choose exactly one of --dry-run, --apply, --validate, --rollback, --restore <file>.');
  const step = steps[0]!;
  if (!args.from && step !== 'rollback') return usage('--from redis://... (the old Redis) is required.');
  if (step === 'apply' && !args.owner) return usage('--apply needs --owner <username> (a Parley account: it owns the imported projects).');

  const usesTarget = step === 'apply' || step === 'validate' || step === 'rollback';
  const targetUrl = args.to ?? defaultRedisTarget();
  if (usesTarget && clusterNodesOf(targetUrl)) {
    console.error(CLUSTER_REFUSAL);
    return 2;
  }

  // The old Redis: one connection attempt, no reconnect loop; a failure ends the run with its reason.
  const source = args.from
    ? new Redis(args.from, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
    : null;
  let sourceError: Error | null = null;
  source?.on('error', (err: Error) => (sourceError ??= err));
  // Parley's Redis, only for the steps that use it (long commands: a 10,000-message session in one script).
  const target = usesTarget ? createRedis(targetUrl, { commandTimeout: 60_000 }) : null;
  try {
    try {
      await source?.connect();
    } catch (err) {
      throw new Error(`cannot reach the old Redis at ${labelOf(args.from!)}: ${(sourceError ?? (err as Error)).message}`, { cause: err });
    }
    if (target && (await target.ping().catch(() => null)) !== 'PONG') {
      throw new Error(`cannot reach Parley's Redis at ${labelOf(targetUrl)}`);
    }
    switch (step) {
      case 'dry-run': {
        const report = await dryRun(source!, { project: args.project });
        printPlan(report);
        console.log(`\nDry run: nothing was changed. ${report.messages} messages in ${report.sessions.length} sessions of ${report.projects} projects would be imported.`);
        return 0;
      }
      case 'apply': {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const backupFile = path.resolve(args['backup-dir'] ?? 'legacy-backups', `legacy-backup-${stamp}.jsonl`);
        const report = await apply(source!, target!, {
          project: args.project,
          owner: args.owner!,
          backupFile,
          sourceLabel: labelOf(args.from!),
          eventLogMaxLen: env.EVENT_LOG_MAXLEN,
          outbox: Boolean(env.DATABASE_URL),
          progress: progressBar(),
        });
        printPlan(report);
        console.log(`\nBackup: ${report.backup.file} (${report.backup.keys} keys, ${formatBytes(report.backup.bytes)})`);
        console.log(
          `Imported ${report.imported} messages (${report.alreadyImported} already imported by an earlier run, ` +
            `${report.alreadyPresent} already in Parley), created ${report.projectsCreated} projects and ` +
            `${report.sessionsCreated} sessions in ${report.seconds.toFixed(1)} s` +
            (report.imported > 0 ? ` (${Math.round(report.imported / report.seconds)} messages/s).` : '.'),
        );
        for (const c of report.conflicts) console.log(`  not imported: ${c.id}: ${c.reason}`);
        console.log('Next: npm run migrate:legacy -- --from ... --validate');
        return report.conflicts.length > 0 ? 1 : 0;
      }
      case 'validate': {
        const report = await validate(source!, target!, { project: args.project });
        console.log(formatValidateTable(report));
        for (const p of report.problems) console.log(`  ${p}`);
        console.log(report.ok ? '\nValid: every source message is in Parley exactly once, unchanged, in order.' : '\nDIFFERENCES found (see above).');
        return report.ok ? 0 : 1;
      }
      case 'rollback': {
        // With the durable tier on, the same rows leave PostgreSQL too (else read-through brings them back).
        const pool = env.DATABASE_URL ? createPool(env.DATABASE_URL, { max: 1 }) : null;
        const report = await rollback(target!, pool ? { pg: pool } : {}).finally(() => pool?.end());
        console.log(
          `Removed ${report.messagesRemoved} messages, ${report.sessionsRemoved} sessions and ${report.projectsRemoved} projects the migration had added` +
            `${pool ? ' (from Redis and PostgreSQL)' : ''}. The source was not touched.`,
        );
        for (const k of report.kept) console.log(`  kept: ${k}`);
        return report.kept.length > 0 ? 1 : 0;
      }
      case 'restore': {
        const result = await restoreBackup(source!, args.restore!);
        console.log(`Restored ${result.restored} keys into ${labelOf(args.from!)} from ${args.restore}.`);
        if (result.expired.length > 0) console.log(`  ${result.expired.length} keys were not restored: their old expiry has passed.`);
        return 0;
      }
      default:
        return usage('Unknown step.');
    }
  } finally {
    source?.disconnect();
    target?.disconnect();
  }
}

function usage(problem: string): number {
  console.error(`${problem}\n\n${USAGE}`);
  return 2;
}

/** host:port/db of a Redis URL, without credentials. */
function labelOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 6379}${u.pathname && u.pathname !== '/' ? u.pathname : '/0'}`;
}

function printPlan(report: DryRunReport) {
  console.log(
    formatTable(
      ['legacy project', 'legacy session', 'title', 'messages', 'expired'],
      report.sessions.map((s) => [s.legacyProjectId, s.legacySessionId, s.title.slice(0, 40), String(s.messages), String(s.expired)]),
    ),
  );
  if (report.expired.length > 0) {
    console.log(`\n${report.expired.length} messages listed in the old Redis have no body any more (expired by SETEX); they cannot be imported:`);
    for (const e of report.expired.slice(0, 20)) console.log(`  ${e.project}/${e.session}: ${e.id}`);
    if (report.expired.length > 20) console.log(`  ... and ${report.expired.length - 20} more`);
  }
  if (report.skipped.length > 0) {
    console.log(`\nSkipped ${report.skipped.length}:`);
    for (const s of report.skipped.slice(0, 50)) console.log(`  ${s.key}${s.id ? ` (${s.id})` : ''}: ${s.reason}`);
    if (report.skipped.length > 50) console.log(`  ... and ${report.skipped.length - 50} more`);
  }
  const other = Object.entries(report.otherMemory);
  if (other.length > 0) console.log(`\nLeft alone (not chat): memory entries ${other.map(([t, n]) => `${t}: ${n}`).join(', ')}`);
}

/** A progress bar on a terminal; a line per 10% otherwise (logs, CI). */
function progressBar(): Progress {
  let total = 0;
  let done = 0;
  let lastDecile = -1;
  const tty = process.stderr.isTTY;
  return {
    start(n) {
      total = n;
    },
    advance(n) {
      done += n;
      if (total === 0) return;
      const ratio = done / total;
      if (tty) {
        const width = 30;
        const filled = Math.round(ratio * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${done}/${total} messages`);
      } else if (Math.floor(ratio * 10) > lastDecile) {
        lastDecile = Math.floor(ratio * 10);
        process.stderr.write(`${done}/${total} messages\n`);
      }
    },
    finish() {
      if (tty && total > 0) process.stderr.write('\n');
    },
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`migrate:legacy failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
