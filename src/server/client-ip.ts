/**
 * The client's IP address, for per-IP limits.
 *
 * A Next.js App Router route handler gets a Web `Request`: no socket, no peer address. Next 16's server
 * fills `x-forwarded-for` from the socket only when the request did not bring one
 * (`req.headers['x-forwarded-for'] ??= socket.remoteAddress` in next/dist/server/base-server.js), so a
 * client talking to the app directly can put any address there and land in a fresh bucket on every
 * request. Hence:
 * - recordPeerAddress() (called once from instrumentation.ts) stamps every incoming request with the
 *   TCP peer's address in PEER_HEADER, overwriting whatever the client sent under that name;
 * - clientIpOf() trusts X-Forwarded-For only as far as TRUST_PROXY says: with 0 proxies it is ignored
 *   and the peer address counts; with N proxies it is the Nth address from the right of the chain
 *   (the peer being the nearest proxy), i.e. the one the outermost trusted proxy saw.
 */
import 'server-only';
import http from 'node:http';
import { logger } from '~/server/log';

export const PEER_HEADER = 'x-parley-peer-address';

/** Used when nothing tells the address (no recorder installed): one shared bucket, never a fresh one. */
const UNKNOWN = 'unknown';

let warned = false;

export function clientIpOf(headers: Headers, trustedProxies: number): string {
  const peer = headers.get(PEER_HEADER);
  if (!peer) {
    if (!warned) {
      warned = true;
      logger('limits').warn('no peer address on requests; per-IP limits share one bucket');
    }
    return UNKNOWN;
  }
  if (trustedProxies === 0) return normalize(peer);
  const chain = (headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  chain.push(peer);
  // chain[last] is the peer (the nearest proxy); each trusted proxy appended the address it saw.
  const index = chain.length - 1 - trustedProxies;
  return normalize(chain[Math.max(0, index)]!);
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one client. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Puts the TCP peer's address in PEER_HEADER, replacing whatever the client sent under that name. */
export function stampPeerAddress(req: http.IncomingMessage): void {
  const address = req.socket?.remoteAddress;
  if (address) req.headers[PEER_HEADER] = address;
  else delete req.headers[PEER_HEADER];
}

const installed = Symbol.for('parley.peerAddressRecorder');

/** Stamps every HTTP request this process serves with its TCP peer's address (idempotent). */
export function recordPeerAddress(): void {
  const proto = http.Server.prototype as http.Server & { [installed]?: boolean };
  if (proto[installed]) return;
  proto[installed] = true;
  // Called below with the server as `this`, exactly as Node calls it.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const emit = proto.emit;
  proto.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'request') stampPeerAddress(args[0] as http.IncomingMessage);
    return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof proto.emit;
}
