// The bench's HTTP clients: tRPC over plain HTTP (as an outside client would call it) and SSE subscribers.
import http from 'node:http';
import { now } from './workload.mjs';

export class HttpError extends Error {}

/**
 * A tRPC-over-HTTP client with keep-alive connections (node:http, no transformer, no batching).
 */
export class Api {
  /**
   * @param {number} port @param {number} connections
   * @param {string} [endpoint] where tRPC is mounted (the request path phase measures another mount)
   */
  constructor(port, connections, endpoint = '/api/trpc') {
    this.port = port;
    this.endpoint = endpoint;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
    this.cookie = '';
  }

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} urlPath
   * @param {string | undefined} body
   * @returns {Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }>}
   */
  raw(method, urlPath, body, retried = false) {
    return new Promise((resolve, reject) => {
      /** @type {http.OutgoingHttpHeaders} */
      const headers = { accept: 'application/json' };
      if (this.cookie) headers.cookie = this.cookie;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: '127.0.0.1', port: this.port, method, path: urlPath, headers, agent: this.agent },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        // The server may close an idle keep-alive socket just as we reuse it: retry once on a new one
        // (safe: queries are reads, and message.send is idempotent by message id).
        const code = /** @type {{ code?: string }} */ (err).code;
        if (!retried && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
          this.raw(method, urlPath, body, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  /** @param {'GET' | 'POST'} method @param {string} proc @param {unknown} input */
  async call(method, proc, input) {
    const res =
      method === 'GET'
        ? await this.raw('GET', `${this.endpoint}/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`, undefined)
        : await this.raw('POST', `${this.endpoint}/${proc}`, JSON.stringify(input ?? {}));
    /** @type {any} */
    let parsed;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw new HttpError(`${proc}: HTTP ${res.status}, not JSON: ${res.body.slice(0, 200)}`);
    }
    if (res.status !== 200 || parsed.error || !parsed.result) {
      const message = parsed.error?.message ?? parsed.error?.json?.message ?? res.body.slice(0, 200);
      throw new HttpError(`${proc}: HTTP ${res.status}: ${message}`);
    }
    return { data: parsed.result.data, headers: res.headers };
  }

  /** @param {string} proc @param {unknown} input */
  async query(proc, input) {
    return (await this.call('GET', proc, input)).data;
  }

  /** @param {string} proc @param {unknown} input */
  async mutation(proc, input) {
    return (await this.call('POST', proc, input)).data;
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * One SSE subscriber of events.subscribe, on its own connection. Calls `onEvent(event, id, t)` for
 * every data event, with t = when the chunk that completed it arrived.
 */
export class Subscriber {
  /**
   * @param {{ port: number, cookie: string, projectId: string, onEvent: (event: any, id: string | null, t: number) => void }} opts
   */
  constructor({ port, cookie, projectId, onEvent }) {
    this.onEvent = onEvent;
    this.closed = false;
    /** @type {Error | null} */
    this.error = null;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    const input = encodeURIComponent(JSON.stringify({ projectId }));
    this.req = http.request({
      host: '127.0.0.1',
      port,
      method: 'GET',
      path: `/api/trpc/events.subscribe?input=${input}`,
      headers: { accept: 'text/event-stream', cookie },
      agent: false,
    });
    this.req.on('response', (res) => {
      if (res.statusCode !== 200) {
        this.fail(new Error(`events.subscribe: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      /** @type {{ event: string | null, data: string[], id: string | null }} */
      let pending = { event: null, data: [], id: null };
      res.on('data', (/** @type {string} */ chunk) => {
        const t = now();
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          let line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (pending.data.length > 0) this.dispatch(pending, t);
            pending = { event: null, data: [], id: null };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') pending.data.push(value);
          else if (field === 'event') pending.event = value;
          else if (field === 'id') pending.id = value;
        }
      });
      res.on('end', () => {
        if (!this.closed) this.fail(new Error('events.subscribe: the server ended the stream'));
      });
      res.on('error', (err) => this.fail(err));
    });
    this.req.on('error', (err) => this.fail(err));
    this.req.end();
  }

  /** @param {{ event: string | null, data: string[], id: string | null }} message @param {number} t */
  dispatch(message, t) {
    if (message.event === 'serialized-error') {
      this.fail(new Error(`events.subscribe error: ${message.data.join('\n')}`));
      return;
    }
    if (message.event !== null) return; // connected, ping, return
    /** @type {any} */
    const event = JSON.parse(message.data.join('\n'));
    if (event?.type === 'ready') this.resolveReady?.(undefined);
    this.onEvent(event, message.id, t);
  }

  /** @param {Error} err */
  fail(err) {
    if (this.closed) return;
    this.error ??= err;
    this.rejectReady?.(err);
  }

  close() {
    this.closed = true;
    this.req.destroy();
  }
}
