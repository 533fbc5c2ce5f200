/**
 * A real http.Server for tests of the production server's Node path (src/server/http/node-*.ts):
 * real sockets on a free port of 127.0.0.1, closed with every open connection (event streams too).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getServices } from '~/server/context';

export interface TestHttpServer {
  /** The server's /api/trpc URL (no trailing slash). */
  trpcBase: string;
  close(): Promise<void>;
}

export async function listenWith(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestHttpServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    trpcBase: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The handlers build the process's own services on first use (getServices); let their connections go. */
export async function closeProcessServices(): Promise<void> {
  const services = getServices();
  await services.hub.close();
  services.redis.disconnect();
}
