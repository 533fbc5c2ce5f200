// CPU accounting from /proc (Linux only; elsewhere the figures read 0): per process tree and machine-wide.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep Linux's usual 100
}

/** utime+stime (s) and ppid of every process, from /proc (Linux only; empty elsewhere). */
export function procTable() {
  /** @type {Map<number, { ppid: number, cpu: number }>} */
  const table = new Map();
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) / clockTicks });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat; 0 when unavailable. */
export function machineBusy() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const busy = cpu.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0);
    return busy / clockTicks;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by `rootPid` and all its descendants. */
export function treeCpu(/** @type {Map<number, { ppid: number, cpu: number }>} */ table, /** @type {number} */ rootPid) {
  let total = 0;
  for (const [pid, info] of table) {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === rootPid) {
        total += info.cpu;
        break;
      }
      p = table.get(p)?.ppid ?? 0;
    }
  }
  return total;
}
