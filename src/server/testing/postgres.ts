/**
 * PostgreSQL for integration tests: the machine's server at 127.0.0.1:5432 (trust auth, user
 * postgres). Each test file creates its own database (parley_test_<random>), migrates it with the real
 * migrations, and drops it at the end, so files never share data. A small TCP proxy in front of it lets
 * a test make PostgreSQL unreachable and reachable again without touching the machine's server.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { migrate } from '../../../scripts/lib/migrate.mjs';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** The same database through another host:port (e.g. a proxy). */
  urlVia(port: number): string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `parley_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const urlVia = (port: number) => {
    const u = new URL(PG_ADMIN_URL);
    u.port = String(port);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const url = urlVia(5432);
  await migrate({ databaseUrl: url });
  return {
    name,
    url,
    urlVia,
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  // A connection that dies emits 'error' on the client (uncaught without a listener); the query in
  // flight rejects as well, and that rejection is what the caller sees.
  client.on('error', (err) => console.warn(`test PostgreSQL admin connection failed: ${err.message}`));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `The durable-tier tests need PostgreSQL at ${PG_ADMIN_URL} (trust auth for user postgres), and it ` +
        `does not answer: ${(err as Error).message}. On Debian: apt-get install postgresql, then ` +
        `pg_ctlcluster <version> main start.`,
      { cause: err },
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TcpProxy {
  port: number;
  /** Stops listening and cuts every open connection: the target looks down (ECONNREFUSED). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
}

/** A TCP proxy on a free loopback port that forwards to 127.0.0.1:<targetPort>. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1');
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const address = s.address();
        port = typeof address === 'object' && address ? address.port : port;
        server = s;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    async close() {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    open: listen,
  };
}
