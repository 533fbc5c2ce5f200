// Starting and stopping real redis-server processes for the launchers and the tests, plus the
// "install what is missing" steps those launchers share. Plain ESM (no TypeScript) so it runs before
// dependencies are installed; JSDoc types let the TypeScript tests use it type-safely.
//
// Every redis-server started here dies with this process: on a normal exit, on SIGINT/SIGTERM/SIGHUP
// (when nobody else handles the signal) and on an uncaught exception. Only a SIGKILL of this process
// can orphan one; the dev launcher then simply reuses the Redis it finds on port 6390.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { commandExists, repoRoot, run, runShell } from './run.mjs';

const DEFAULT_READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 15_000;
const LOG_TAIL_LINES = 40;

/**
 * @typedef {object} StartRedisOptions
 * @property {number} [port] TCP port; a free one is picked when omitted.
 * @property {string} [dir] Data directory (created if missing); a fresh temp dir when omitted.
 * @property {string} [confFile] Config file to start from. Without one, test-friendly settings are
 *   used: AOF on (everysec), no RDB snapshots, noeviction, loopback only.
 * @property {string[]} [extraArgs] More `--name value` arguments for redis-server.
 * @property {number} [readyTimeoutMs] How long to wait for the first PONG (default 10 s). Raise it
 *   for a data dir with a large AOF: Redis answers -LOADING until it has replayed it.
 */

/**
 * @typedef {object} RedisServerHandle
 * @property {string} url `redis://127.0.0.1:<port>`
 * @property {number} port
 * @property {string} dir The data directory (AOF and RDB live here).
 * @property {number} pid Pid of the current redis-server process (changes on restart()).
 * @property {(signal?: NodeJS.Signals) => Promise<void>} stop Sends `signal` (default SIGTERM: Redis
 *   fsyncs the AOF and exits cleanly) and resolves once the process has exited. Escalates to SIGKILL
 *   after 15 s. Resolves at once if it is not running.
 * @property {() => Promise<void>} kill SIGKILL, like a crash; resolves once the process has exited.
 * @property {() => Promise<RedisServerHandle>} restart Stops the server if it is running, then starts
 *   it again on the same port, data dir, config and args (so the AOF is replayed), waits until it
 *   answers PING, and resolves with this same handle (updated in place).
 * @property {() => Promise<void>} destroy stop(), then delete the data dir if it was a temp dir
 *   created by startRedisServer.
 * @property {() => boolean} isRunning
 * @property {() => string} logTail The last lines redis-server printed.
 */

/** @type {Set<import('node:child_process').ChildProcess>} */
const liveChildren = new Set();
/** @type {Set<string>} */
const ownedTempDirs = new Set();
let exitHooksInstalled = false;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGTERM');
    for (const dir of ownedTempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: redis-server may still be writing into it
      }
    }
  });
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    // Listening to a signal disables Node's default "exit on signal". So act only when no one else
    // listens (a launcher that listens takes care of its own shutdown): exit like the default would,
    // which runs the 'exit' hook above.
    process.on(sig, () => {
      if (process.listenerCount(sig) > 1) return;
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    });
  }
}

/**
 * A TCP port that is free on 127.0.0.1 right now.
 * @returns {Promise<number>}
 */
export async function findFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/**
 * Encodes a command as a RESP array (safe for any bytes in the arguments, unlike inline commands).
 * @param {string[]} args
 */
function encodeCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

/**
 * Sends commands over a raw socket (no client library) and resolves with the raw replies, or
 * undefined on a connection error, an error reply, or a timeout. Sends AUTH first when the URL carries
 * credentials and supports `rediss://`. Understands the reply types it is used for: simple strings
 * and errors (one line each) and bulk strings.
 * @param {string} url
 * @param {string[][]} commands
 * @param {number} timeoutMs
 * @returns {Promise<string[] | undefined>} one string per command (AUTH reply excluded)
 */
async function rawCommands(url, commands, timeoutMs) {
  /** @type {URL} */
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  const all = [...commands];
  if (parsed.password) {
    const password = decodeURIComponent(parsed.password);
    all.unshift(parsed.username ? ['AUTH', decodeURIComponent(parsed.username), password] : ['AUTH', password]);
  }

  return new Promise((resolve) => {
    const useTls = parsed.protocol === 'rediss:';
    const socket = useTls
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    let settled = false;
    /** @param {string[] | undefined} result */
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      socket.write(all.map(encodeCommand).join(''));
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      /** @type {string[]} */
      const replies = [];
      let at = 0;
      while (replies.length < all.length) {
        const eol = buffer.indexOf('\r\n', at);
        if (eol === -1) return; // wait for more data
        const line = buffer.toString('utf8', at, eol);
        if (line.startsWith('-')) return finish(undefined);
        if (line.startsWith('$')) {
          const length = Number(line.slice(1));
          if (length < 0) {
            replies.push('');
            at = eol + 2;
            continue;
          }
          if (buffer.length < eol + 2 + length + 2) return; // bulk body not complete yet
          replies.push(buffer.toString('utf8', eol + 2, eol + 2 + length));
          at = eol + 2 + length + 2;
        } else {
          replies.push(line);
          at = eol + 2;
        }
      }
      finish(replies.slice(all.length - commands.length));
    });
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
  });
}

/**
 * Whether the Redis at `url` answers PING with PONG within `timeoutMs`. Uses a raw socket (no client
 * library), sends AUTH first when the URL carries credentials, and supports `rediss://`. A server that
 * is still loading its data answers `-LOADING`, which counts as not ready.
 * @param {string} url e.g. `redis://127.0.0.1:6390` or `redis://:secret@host:6379/0`
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
export async function pingRedis(url, timeoutMs = 1000) {
  const replies = await rawCommands(url, [['PING']], timeoutMs);
  return replies?.[0] === '+PONG';
}

/**
 * The pid of the redis-server answering at `url` (from INFO server), or undefined if it does not
 * answer or is not ready. Tells our own process apart from another one already on the port.
 * @param {string} url
 * @param {number} timeoutMs
 */
async function redisProcessId(url, timeoutMs) {
  const replies = await rawCommands(url, [['PING'], ['INFO', 'server']], timeoutMs);
  if (replies?.[0] !== '+PONG') return undefined;
  const match = /^process_id:(\d+)/m.exec(replies[1] ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * redis.conf's `hash-max-listpack-*` lines as `--name value` arguments: every redis-server started
 * here without that file (tests, cluster nodes) encodes message buckets as production does, so memory
 * and the encoding-dependent paths are tested as they run. Read from the file: one place for the values.
 */
export const LAYOUT_ARGS = fs
  .readFileSync(path.join(repoRoot, 'redis.conf'), 'utf8')
  .split('\n')
  .flatMap((line) => {
    const m = /^(hash-max-listpack-[a-z]+)\s+(\d+)\s*$/.exec(line);
    return m ? [`--${m[1]}`, m[2]] : [];
  });
if (LAYOUT_ARGS.length !== 4) throw new Error('redis.conf: expected hash-max-listpack-entries and hash-max-listpack-value');

/**
 * Starts one redis-server process and waits until it answers PING.
 * @param {{ port: number, dir: string, confFile?: string, extraArgs: string[], readyTimeoutMs: number }} spec
 */
async function launch(spec) {
  const args = [];
  if (spec.confFile) args.push(path.resolve(spec.confFile));
  args.push('--port', String(spec.port), '--dir', spec.dir);
  if (!spec.confFile) {
    args.push(
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', 'noeviction',
      '--bind', '127.0.0.1',
      '--daemonize', 'no',
      ...LAYOUT_ARGS,
    );
  }
  args.push(...spec.extraArgs);

  installExitHooks();
  // Own process group (detached): a Ctrl-C in the terminal reaches the app, not Redis; the launcher
  // stops Redis itself, after the app, so the app never sees its store vanish first.
  const child = spawn('redis-server', args, {
    cwd: spec.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  liveChildren.add(child);

  /** @type {string[]} */
  const logLines = [];
  let partial = '';
  /** @param {Buffer} chunk */
  const collect = (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    logLines.push(...lines);
    if (logLines.length > LOG_TAIL_LINES) logLines.splice(0, logLines.length - LOG_TAIL_LINES);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const logTail = () => [...logLines, partial].filter(Boolean).join('\n');

  /** @type {Error | undefined} */
  let spawnError;
  const exited = new Promise((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      liveChildren.delete(child);
      resolve(undefined);
    });
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve(undefined);
    });
  });
  const hasExited = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;

  const url = `redis://127.0.0.1:${spec.port}`;
  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (hasExited()) {
      const why = spawnError
        ? `could not run redis-server: ${spawnError.message}`
        : `redis-server exited during start (code ${child.exitCode}, signal ${child.signalCode})`;
      const error = new Error(`${why}\n--- redis-server log ---\n${logTail()}`);
      if (/Address already in use/i.test(logTail())) Object.assign(error, { code: 'EADDRINUSE' });
      throw error;
    }
    // Compare pids: a PONG from another server that already holds the port is not ours.
    if ((await redisProcessId(url, 500)) === child.pid) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(
        `redis-server on port ${spec.port} did not answer PING within ${spec.readyTimeoutMs / 1000}s` +
          `\n--- redis-server log ---\n${logTail()}`,
      );
    }
    await sleep(50);
  }

  let stopRequested = false;
  void exited.then(() => {
    if (!stopRequested && !spawnError) {
      process.stderr.write(
        `\nredis-server on port ${spec.port} (pid ${child.pid}) exited unexpectedly ` +
          `(code ${child.exitCode}, signal ${child.signalCode})\n--- redis-server log ---\n${logTail()}\n`,
      );
    }
  });

  return {
    child,
    logTail,
    hasExited,
    /** @param {NodeJS.Signals} signal */
    async stop(signal) {
      if (hasExited()) return;
      stopRequested = true;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `redis-server` and waits until it answers PING.
 *
 * Spawns `redis-server [confFile] --port <port> --dir <dir> [test defaults] ...extraArgs`. Without a
 * confFile the test defaults are `--save "" --appendonly yes --appendfsync everysec
 * --maxmemory-policy noeviction --bind 127.0.0.1` and redis.conf's listpack sizes (LAYOUT_ARGS): tests
 * get the same durability and encoding as production.
 * @param {StartRedisOptions} [options]
 * @returns {Promise<RedisServerHandle>}
 */
export async function startRedisServer({
  port,
  dir,
  confFile,
  extraArgs = [],
  readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS,
} = {}) {
  const ownsDir = !dir;
  const dataDir = dir ? path.resolve(dir) : await fsp.mkdtemp(path.join(os.tmpdir(), 'parley-redis-'));
  if (ownsDir) ownedTempDirs.add(dataDir);
  await fsp.mkdir(dataDir, { recursive: true });

  /** @type {Awaited<ReturnType<typeof launch>>} */
  let current;
  let chosenPort = port ?? 0;
  for (let attempt = 1; ; attempt++) {
    if (port === undefined) chosenPort = await findFreePort();
    try {
      current = await launch({ port: chosenPort, dir: dataDir, confFile, extraArgs, readyTimeoutMs });
      break;
    } catch (error) {
      // A free port can be taken between findFreePort() and redis-server's bind: pick another.
      const portTaken = /** @type {{ code?: unknown }} */ (error).code === 'EADDRINUSE';
      if (port === undefined && portTaken && attempt < 5) continue;
      if (ownsDir) await removeOwnedDir(dataDir);
      throw error;
    }
  }

  /** @type {RedisServerHandle} */
  const handle = {
    url: `redis://127.0.0.1:${chosenPort}`,
    port: chosenPort,
    dir: dataDir,
    get pid() {
      return current.child.pid ?? -1;
    },
    stop: (signal = 'SIGTERM') => current.stop(signal),
    kill: () => current.stop('SIGKILL'),
    async restart() {
      await current.stop('SIGTERM');
      current = await launch({ port: chosenPort, dir: dataDir, confFile, extraArgs, readyTimeoutMs });
      return handle;
    },
    async destroy() {
      await current.stop('SIGTERM');
      if (ownsDir) await removeOwnedDir(dataDir);
    },
    isRunning: () => !current.hasExited(),
    logTail: () => current.logTail(),
  };
  return handle;
}

/** @param {string} dir */
async function removeOwnedDir(dir) {
  ownedTempDirs.delete(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}

/**
 * @typedef {object} StartRedisClusterOptions
 * @property {number} [masters] Number of masters (default 3).
 * @property {number} [replicasPerMaster] Replicas per master (default 1: 3 masters + 3 replicas).
 * @property {number} [nodeTimeoutMs] `cluster-node-timeout`: how long a master may be silent before
 *   its replica is promoted (default 2000; Redis's own default of 15 s makes failover tests slow).
 * @property {string[]} [extraArgs] More `--name value` arguments for every node.
 * @property {number[]} [ports] The nodes' ports (free ones when omitted): a new, empty cluster in the
 *   place of a lost one, where clients still point.
 */

/**
 * @typedef {object} RedisClusterHandle
 * @property {RedisServerHandle[]} nodes Every node, masters first as created (roles change on failover).
 * @property {string} nodesList `127.0.0.1:p1,127.0.0.1:p2,...`: the value of REDIS_CLUSTER_NODES.
 * @property {string} url `redis+cluster://127.0.0.1:p1,...`: the URL form the app's client factory takes.
 * @property {() => Promise<void>} waitHealthy Resolves once every running node reports
 *   `cluster_state:ok` and every running replica's link to its master is up.
 * @property {() => Promise<void>} destroy Stops every node and removes their temp dirs.
 * @property {number[]} ports Every node's port, in the order of `nodes`.
 * @property {(signal?: NodeJS.Signals) => Promise<void>} stop The whole cluster as one server (tests of
 *   a Redis outage): sends `signal` (default SIGTERM) to every node and resolves once all have exited.
 * @property {() => Promise<void>} kill SIGKILL to every node at once, like a lost machine.
 * @property {() => Promise<RedisClusterHandle>} restart Stops every node still running, starts them all
 *   again on their ports and data dirs (AOF and nodes.conf kept: the same cluster comes back) and
 *   resolves once it is healthy.
 * @property {() => boolean} isRunning Whether any node runs.
 */

/**
 * Runs `redis-cli` with `args` and resolves with its exit code and output (stdout and stderr together).
 * @param {string[]} args
 * @returns {Promise<{ code: number, output: string }>}
 */
export function redisCli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

/**
 * One node's `INFO replication` and `CLUSTER INFO` fields, or undefined if it does not answer.
 * @param {RedisServerHandle} node
 */
export async function clusterNodeInfo(node) {
  const replies = await rawCommands(node.url, [['INFO', 'replication'], ['CLUSTER', 'INFO']], 1000);
  if (!replies) return undefined;
  /** @type {Record<string, string>} */
  const fields = {};
  for (const line of replies.join('\n').split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return fields;
}

/**
 * Starts a real Redis Cluster on free loopback ports: `masters` x (1 + replicasPerMaster) redis-server
 * processes with `--cluster-enabled yes`, each in its own temp dir (AOF on, as startRedisServer), joined
 * by `redis-cli --cluster create --cluster-replicas N --cluster-yes`, and waits until every node says
 * `cluster_state:ok` and every replica is in sync. Every node dies with this process, like the
 * standalone servers.
 * @param {StartRedisClusterOptions} [options]
 * @returns {Promise<RedisClusterHandle>}
 */
export async function startRedisCluster({ masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 2000, extraArgs = [], ports } = {}) {
  const count = masters * (1 + replicasPerMaster);
  /** @type {RedisServerHandle[]} */
  const nodes = [];
  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  };
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startRedisServer({
          ...(ports?.[i] !== undefined ? { port: ports[i] } : {}),
          extraArgs: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', 'nodes.conf',
            '--cluster-node-timeout', String(nodeTimeoutMs),
            // A replica may be promoted however long its link was down: the tests kill masters on purpose.
            '--cluster-replica-validity-factor', '0',
            // Replicas sync at once (the default waits 5 s for more replicas to share one transfer), and
            // a stopped master does not wait up to 10 s for replicas that are stopping with it.
            '--repl-diskless-sync-delay', '0',
            '--shutdown-timeout', '0',
            ...extraArgs,
          ],
        }),
      );
    }
    const created = await redisCli([
      '--cluster', 'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicasPerMaster),
      '--cluster-yes',
    ]);
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed (exit ${created.code}):\n${created.output}`);
  } catch (error) {
    await destroy();
    throw error;
  }
  const nodesList = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  /** @type {RedisClusterHandle} */
  const handle = {
    nodes,
    nodesList,
    url: `redis+cluster://${nodesList}`,
    async waitHealthy() {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const infos = await Promise.all(nodes.filter((n) => n.isRunning()).map(clusterNodeInfo));
        const healthy = infos.every(
          (f) => f?.cluster_state === 'ok' && (f.role !== 'slave' || f.master_link_status === 'up'),
        );
        // Every slot is covered by a master that answers, and each expected replica is attached.
        if (healthy) return;
        if (Date.now() > deadline) {
          throw new Error(`Redis Cluster not healthy after 30 s: ${JSON.stringify(infos.map((f) => [f?.role, f?.cluster_state, f?.master_link_status]))}`);
        }
        await sleep(100);
      }
    },
    destroy,
    ports: nodes.map((n) => n.port),
    async stop(signal = 'SIGTERM') {
      await Promise.all(nodes.map((n) => n.stop(signal)));
    },
    async kill() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
    async restart() {
      // All down before any comes back, as after a power loss: no node sees a half-restarted cluster.
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all(nodes.map((n) => n.restart()));
      await handle.waitHealthy();
      return handle;
    },
    isRunning: () => nodes.some((n) => n.isRunning()),
  };
  try {
    await handle.waitHealthy();
  } catch (error) {
    await destroy();
    throw error;
  }
  return handle;
}

/**
 * Runs one command on one node through redis-cli (raw output), failing on an error reply.
 * @param {RedisServerHandle} node
 * @param {string[]} args
 */
async function nodeCommand(node, args) {
  const { code, output } = await redisCli(['-p', String(node.port), '--no-raw', ...args]);
  if (code !== 0 || /^\(error\)/m.test(output)) throw new Error(`redis-cli ${args.join(' ')} on port ${node.port}: ${output}`);
  return output;
}

/**
 * Moves one hash slot, with its keys, from the master serving it to `to` while clients keep using it,
 * the way `redis-cli --cluster reshard` does it: IMPORTING on the target, MIGRATING on the source,
 * MIGRATE of its keys in batches (clients meanwhile get ASK / TRYAGAIN and retry), then SETSLOT NODE on
 * every master. Resolves once the slot is served by `to`.
 * @param {RedisClusterHandle} cluster
 * @param {number} slot
 * @param {RedisServerHandle} to a master
 */
export async function migrateSlot(cluster, slot, to) {
  const live = cluster.nodes.filter((n) => n.isRunning());
  const myId = async (/** @type {RedisServerHandle} */ n) => (await redisCli(['-p', String(n.port), 'CLUSTER', 'MYID'])).output.trim();
  const toId = await myId(to);
  // Who serves the slot now: CLUSTER SLOTS as seen by the target.
  const { output: nodesText } = await redisCli(['-p', String(to.port), 'CLUSTER', 'NODES']);
  /** @type {string | undefined} */
  let fromId;
  for (const line of nodesText.split('\n')) {
    const [id, , flags, , , , , , ...ranges] = line.trim().split(' ');
    if (!flags?.includes('master') || flags.includes('fail')) continue;
    for (const range of ranges) {
      const [lo, hi = lo] = range.split('-').map(Number);
      if (lo !== undefined && hi !== undefined && slot >= lo && slot <= hi) fromId = id;
    }
  }
  if (!fromId) throw new Error(`slot ${slot} is served by no live master`);
  if (fromId === toId) return;
  /** @type {RedisServerHandle | undefined} */
  let from;
  for (const n of live) if ((await myId(n)) === fromId) from = n;
  if (!from) throw new Error(`the master of slot ${slot} is not one of ours`);

  await nodeCommand(to, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId]);
  await nodeCommand(from, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId]);
  for (;;) {
    const { output } = await redisCli(['-p', String(from.port), 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100']);
    const keys = output.split('\n').map((k) => k.trim()).filter(Boolean);
    if (keys.length === 0) break;
    await nodeCommand(from, ['MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'REPLACE', 'KEYS', ...keys]);
  }
  // The target first (it then answers for the slot), then the source, then everyone else.
  const masters = [to, from, ...live.filter((n) => n !== to && n !== from)];
  for (const n of masters) {
    await redisCli(['-p', String(n.port), 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Installs a Debian package when running as root; otherwise throws an Error whose message is exactly
 * the command the user should run.
 * @param {string} pkg
 */
async function aptInstall(pkg) {
  if (!isRoot()) throw new Error(`sudo apt-get install -y ${pkg}`);
  console.log(`Installing ${pkg} (apt-get)...`);
  const code = await runShell(`apt-get update && apt-get install -y ${pkg}`, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (code !== 0) throw new Error(`apt-get install -y ${pkg} failed (exit ${code})`);
}

/**
 * Makes sure `redis-server` is on PATH: installs it with apt-get when running as root, otherwise
 * throws an Error whose message is `sudo apt-get install -y redis-server`.
 * @returns {Promise<void>}
 */
export async function ensureRedisServerInstalled() {
  if (commandExists('redis-server')) return;
  await aptInstall('redis-server');
  if (!commandExists('redis-server')) throw new Error('redis-server is still not on PATH after installing it');
}

/**
 * Makes sure Debian's Chromium is at /usr/bin/chromium (Playwright launches it; it cannot download
 * browsers here): installs it with apt-get when running as root, otherwise throws an Error whose
 * message is `sudo apt-get install -y chromium`.
 * @returns {Promise<void>}
 */
export async function ensureChromium() {
  if (isExecutable('/usr/bin/chromium')) return;
  await aptInstall('chromium');
  if (!isExecutable('/usr/bin/chromium')) throw new Error('/usr/bin/chromium is still missing after installing chromium');
}

/** @param {string} file */
function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** @param {string} file */
function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Installs npm dependencies when node_modules is missing or older than package.json /
 * package-lock.json (judged by node_modules/.package-lock.json, which npm rewrites on every install).
 * Always `npm install` (which keeps the lockfile's versions), never `npm ci`: the registry reachable
 * here lacks Next's macOS/Windows SWC packages, so the lockfile cannot list them, and `npm ci` refuses a
 * lockfile that does not list every optional platform package.
 * @param {{ cwd?: string }} [options]
 * @returns {Promise<void>}
 */
export async function ensureDependencies({ cwd = repoRoot } = {}) {
  const installed = mtimeMs(path.join(cwd, 'node_modules', '.package-lock.json'));
  const lockfile = mtimeMs(path.join(cwd, 'package-lock.json'));
  const manifest = mtimeMs(path.join(cwd, 'package.json'));
  const upToDate =
    installed !== undefined && installed >= (lockfile ?? 0) && installed >= (manifest ?? 0);
  if (upToDate) return;

  const args = ['install', '--no-audit', '--no-fund'];
  console.log(`Installing dependencies: npm ${args.join(' ')}`);
  const code = await run('npm', args, { cwd });
  if (code !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${code})`);
  // npm leaves the marker untouched when nothing changed; touch it so the next run skips the install.
  const marker = path.join(cwd, 'node_modules', '.package-lock.json');
  if (fs.existsSync(marker)) {
    const now = new Date();
    fs.utimesSync(marker, now, now);
  }
}
