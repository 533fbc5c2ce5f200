import 'server-only';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';

/**
 * The backup `--apply` writes before it imports anything, and `--restore` reads.
 *
 * Format (JSON lines, UTF-8): a header line
 *   {"format":"parley-legacy-backup","version":1,"createdAt":"<ISO>","source":"<host:port/db>","keys":<n>}
 * then one line per source key
 *   {"key":"<name>","type":"string|hash|list|set|zset","expireAt":<epoch ms>|null,"dump":"<base64>"}
 * where `dump` is Redis's own DUMP payload (restorable with RESTORE on the same or a newer Redis major
 * version) and `expireAt` the absolute expiry the key had (SETEX'd bodies and EXPIRE'd session hashes
 * keep their deadlines on restore). The file is written beside, flushed to disk and renamed into place,
 * so a backup file that exists is complete.
 */

export const BACKUP_FORMAT = 'parley-legacy-backup';

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: 1;
  createdAt: string;
  source: string;
  keys: number;
}

export interface BackupLine {
  key: string;
  type: string;
  expireAt: number | null;
  dump: string;
}

export class NoSpaceError extends Error {}

/** Reads every key (DUMP, TYPE, PTTL) and writes the backup. Refuses, writing nothing, without room for it. */
export async function writeBackup(
  redis: Redis,
  keyNames: string[],
  file: string,
  source: string,
  freeBytes: (dir: string) => Promise<number> = freeBytesIn,
): Promise<{ file: string; keys: number; bytes: number }> {
  const lines: string[] = [];
  for (let i = 0; i < keyNames.length; i += 500) {
    const chunk = keyNames.slice(i, i + 500);
    const p = redis.pipeline();
    const now = Date.now();
    for (const k of chunk) p.type(k).pttl(k).dumpBuffer(k);
    const replies = (await p.exec()) ?? [];
    chunk.forEach((key, j) => {
      const [e1, type] = replies[j * 3]!;
      const [e2, pttl] = replies[j * 3 + 1]!;
      const [e3, dump] = replies[j * 3 + 2]!;
      const err = e1 ?? e2 ?? e3;
      if (err) throw err;
      if (dump === null || type === 'none') return; // expired between the read and the backup
      const line: BackupLine = {
        key,
        type: type as string,
        expireAt: (pttl as number) > 0 ? now + (pttl as number) : null,
        dump: (dump as Buffer).toString('base64'),
      };
      lines.push(JSON.stringify(line));
    });
  }
  const header: BackupHeader = { format: BACKUP_FORMAT, version: 1, createdAt: new Date().toISOString(), source, keys: lines.length };
  const text = `${[JSON.stringify(header), ...lines].join('\n')}\n`;
  const bytes = Buffer.byteLength(text);

  const dir = path.dirname(path.resolve(file));
  await mkdir(dir, { recursive: true });
  const free = await freeBytes(dir);
  // Room for the file plus a margin, so the backup never fills the disk the import may need.
  const needed = bytes + Math.max(1 << 20, bytes / 10);
  if (free < needed) {
    throw new NoSpaceError(
      `Not enough free space for the backup in ${dir}: it needs ${formatBytes(needed)}, ${formatBytes(free)} are free. ` +
        'Free some space or choose another directory with --backup-dir. Nothing was changed.',
    );
  }
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  try {
    if (!out.write(text)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    const handle = await open(partial, 'r');
    await handle.sync();
    await handle.close();
    await rename(partial, file);
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    throw err;
  }
  return { file, keys: lines.length, bytes };
}

/**
 * Puts every key of a backup back as it was (RESTORE ... REPLACE ABSTTL). Keys whose expiry has passed
 * meanwhile are not restored (they would vanish at once): reported.
 */
export async function restoreBackup(redis: Redis, file: string): Promise<{ restored: number; expired: string[] }> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let header: BackupHeader | null = null;
  let restored = 0;
  const expired: string[] = [];
  let batch: BackupLine[] = [];
  const flush = async () => {
    const p = redis.pipeline();
    const now = Date.now();
    const sent: BackupLine[] = [];
    for (const l of batch) {
      if (l.expireAt !== null && l.expireAt <= now) {
        expired.push(l.key);
        continue;
      }
      p.restore(l.key, l.expireAt ?? 0, Buffer.from(l.dump, 'base64'), 'REPLACE', 'ABSTTL');
      sent.push(l);
    }
    const replies = (await p.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    restored += sent.length;
    batch = [];
  };
  for await (const text of lines) {
    if (!text.trim()) continue;
    if (!header) {
      const h = JSON.parse(text) as BackupHeader;
      if (h.format !== BACKUP_FORMAT || h.version !== 1) throw new Error(`${file} is not a Parley legacy backup`);
      header = h;
      continue;
    }
    batch.push(JSON.parse(text) as BackupLine);
    if (batch.length >= 500) await flush();
  }
  if (!header) throw new Error(`${file} is empty: not a Parley legacy backup`);
  await flush();
  return { restored, expired };
}

async function freeBytesIn(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}
