// Small process helpers shared by the launchers (dev, start, test). Plain ESM so they run before
// dependencies are installed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';

/** Absolute path of the repository root (this file lives in scripts/lib/). */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/**
 * Path of a locally installed CLI (node_modules/.bin/<name>).
 * @param {string} name
 */
export function bin(name) {
  return path.join(repoRoot, 'node_modules', '.bin', name);
}

/**
 * Whether an executable named `name` is on PATH.
 * @param {string} name
 */
export function commandExists(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * The exit code a shell would report for a child: its code, or 128 + signal number.
 * @param {number | null} code
 * @param {NodeJS.Signals | null} signal
 */
export function exitCodeOf(code, signal) {
  if (code !== null) return code;
  const n = signal ? osConstants.signals[signal] : undefined;
  return n ? 128 + n : 1;
}

/**
 * Runs a command with inherited stdio and resolves with its exit code (never rejects on a non-zero
 * exit; rejects only if it cannot be spawned). While it runs, SIGINT/SIGTERM/SIGHUP received by this
 * process are forwarded to it.
 * @param {string} command
 * @param {readonly string[]} args
 * @param {import('node:child_process').SpawnOptions} [options]
 * @returns {Promise<number>}
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', cwd: repoRoot, ...options });
    const stopForwarding = forwardSignals(child);
    child.once('error', (err) => {
      stopForwarding();
      reject(err);
    });
    child.once('exit', (code, signal) => {
      stopForwarding();
      resolve(exitCodeOf(code, signal));
    });
  });
}

/**
 * Like run(), but through `sh -c` (for `a && b` sequences such as apt-get).
 * @param {string} script
 * @param {import('node:child_process').SpawnOptions} [options]
 */
export function runShell(script, options = {}) {
  return run('sh', ['-c', script], options);
}

const forwardedSignals = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);

/**
 * Forwards termination signals received by this process to `child` until the returned function is
 * called. While forwarding, this process does not die of those signals itself: it waits for the child
 * to exit and lets the caller decide (and clean up).
 * @param {import('node:child_process').ChildProcess} child
 * @returns {() => void} stop forwarding
 */
export function forwardSignals(child) {
  /** @type {Array<[NodeJS.Signals, () => void]>} */
  const handlers = forwardedSignals.map((sig) => [
    sig,
    () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  ]);
  for (const [sig, handler] of handlers) process.on(sig, handler);
  return () => {
    for (const [sig, handler] of handlers) process.removeListener(sig, handler);
  };
}

/**
 * Formats a duration for step banners: "850ms", "12.3s", "2m 05s".
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}
