/**
 * A PostgreSQL connection that dies while the app holds it must not take the process down.
 *
 * pg emits 'error' on a CLIENT whose connection ends unexpectedly (also mid-query, after failing the
 * query). pg-pool listens on the clients it holds idle, but not on the ones checked out: a checked-out
 * client, or a standalone one, without a listener of ours turns a PostgreSQL restart into an uncaught
 * exception (Vitest reports it as an unhandled error and fails this file; in production Node exits).
 * Each test kills the backend of such a connection with pg_terminate_backend, as a restart does.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import { migrate } from '../../../scripts/lib/migrate.mjs';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '~/server/testing/postgres';
import { waitFor } from '~/server/testing/wait';
import { createPool, PostgresUnavailableError, transaction, withClient, type Pool, type PoolClient } from './pg';

let db: TestDatabase;
let pool: Pool;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, { max: 4 });
  admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  admin.on('error', (err) => console.warn(`admin connection failed: ${err.message}`));
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await pool?.end();
  await db?.drop();
});

/** Terminates the backend serving `pid`, as a PostgreSQL restart would. */
async function terminate(pid: number): Promise<void> {
  const r = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
  expect(r.rows[0]?.ok).toBe(true);
}

async function backendPid(client: PoolClient | pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

/** Resolves once the client noticed its connection ended (so any 'error' event has been emitted). */
function ended(client: PoolClient): Promise<void> {
  return new Promise((resolve) => client.once('end', () => resolve()));
}

describe('a checked-out pool client whose backend is terminated', () => {
  it('inside a transaction, between two statements: the transaction fails as unavailable, the process lives on', async () => {
    const outcome = transaction(pool, async (client) => {
      // The fix itself: a listener of ours while the pool has taken its own away.
      expect(client.listenerCount('error')).toBeGreaterThan(0);
      const gone = ended(client);
      await terminate(await backendPid(client));
      await gone; // the 'error' event fired while we held the client and no query was running
      await client.query('SELECT 1');
    });
    await expect(outcome).rejects.toBeInstanceOf(PostgresUnavailableError);
    // The broken connection was dropped, not handed to the next caller.
    expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
  });

  it('in the middle of a statement: the statement fails, no unhandled error follows', async () => {
    const outcome = transaction(pool, async (client) => {
      const pid = await backendPid(client);
      // Settled into a value at once: it rejects before the 'end' below is awaited.
      const sleeping = client.query('SELECT pg_sleep(30)').then(() => null, (err: unknown) => err);
      await waitFor(async () => {
        const r = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE $2', [pid, '%pg_sleep%']);
        return r.rowCount === 1;
      }, 10_000, 'the sleep to be running');
      const gone = ended(client);
      await terminate(pid);
      await gone;
      const failure = await sleeping;
      expect(failure).toBeInstanceOf(Error);
      throw failure;
    });
    await expect(outcome).rejects.toBeInstanceOf(PostgresUnavailableError);
    expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
  });

  it('held by withClient (the replay lock holds one across Redis calls): the next query rejects', async () => {
    const outcome = withClient(pool, async (client) => {
      const gone = ended(client);
      await terminate(await backendPid(client));
      await gone;
      await client.query('SELECT 1');
    });
    await expect(outcome).rejects.toThrow();
    expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
  });

  it('idle in the pool: the pool drops it and hands out a working one', async () => {
    const own = createPool(db.url, { max: 3 });
    try {
      // Three connections at once (so three distinct ones), then all idle in the pool.
      const clients = await Promise.all([1, 2, 3].map(() => own.connect()));
      const pids = await Promise.all(clients.map(backendPid));
      for (const c of clients) c.release();
      expect(own.idleCount).toBe(3);
      for (const pid of pids) await terminate(pid);
      await waitFor(() => own.totalCount === 0, 10_000, 'the pool to drop the dead connections');
      expect((await own.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
    } finally {
      await own.end();
    }
  });
});

/**
 * A proxy to PostgreSQL that, on every connection, sends the client the server's start-up answers up
 * to ReadyForQuery AND, in the same TCP chunk, the FATAL error a backend terminated at that moment
 * sends. pg parses both in one go: the second one arrives before any promise continuation runs.
 */
async function killAfterStartupProxy(): Promise<{ port: number; close(): Promise<void> }> {
  const fatal = (() => {
    const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0');
    const head = Buffer.alloc(5);
    head.write('E', 0);
    head.writeInt32BE(fields.length + 4, 1);
    return Buffer.concat([head, fields]);
  })();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(5432, '127.0.0.1');
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      sock.on('close', () => sockets.delete(sock));
    }
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Walk the framed messages (type byte + int32 length) up to the first ReadyForQuery ('Z').
      for (let at = 0; at + 5 <= pending.length; ) {
        const end = at + 1 + pending.readInt32BE(at + 1);
        if (end > pending.length) return;
        if (pending[at] === 0x5a) {
          client.end(Buffer.concat([pending.subarray(0, end), fatal]));
          upstream.destroy();
          return;
        }
        at = end;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a pool connection killed right after it was established', () => {
  it('gets its listener before pg reads on: the checkout fails as unavailable, no unhandled error', async () => {
    const proxy = await killAfterStartupProxy();
    const own = createPool(db.urlVia(proxy.port), { max: 2 });
    try {
      for (let i = 0; i < 3; i++) {
        await expect(withClient(own, (client) => client.query('SELECT 1'))).rejects.toThrow(/terminat|not queryable/i);
        await expect(transaction(own, (client) => client.query('SELECT 1'))).rejects.toBeInstanceOf(PostgresUnavailableError);
      }
    } finally {
      await own.end();
      await proxy.close();
    }
  });
});

describe('the migration connection', () => {
  it('terminated while it waits for the migration lock: migrate() rejects, no unhandled error', async () => {
    // Another "server" holds the migration lock, so this migrate() waits on its connection.
    const holder = new pg.Client({ connectionString: db.url });
    holder.on('error', (err) => console.warn(`lock holder connection failed: ${err.message}`));
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [PG_MIGRATE_LOCK_ID]);
      const holderPid = await backendPid(holder);
      const errors: Error[] = [];
      const running = migrate({ databaseUrl: db.url, onConnectionError: (err) => errors.push(err) });
      const settled = running.then(
        () => 'resolved',
        (err: unknown) => err,
      );
      let waiter = 0;
      await waitFor(async () => {
        const r = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> $2 AND wait_event_type = 'Lock'`,
          [db.name, holderPid],
        );
        waiter = r.rows[0]?.pid ?? 0;
        return waiter > 0;
      }, 10_000, 'migrate() to wait for the lock');
      await terminate(waiter);
      expect(await settled).toBeInstanceOf(Error);
      await waitFor(() => errors.length > 0, 10_000, 'the connection error to be reported');
      expect(errors[0]!.message).toMatch(/terminat/i);
    } finally {
      await holder.end();
    }
  });
});
