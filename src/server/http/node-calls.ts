import 'server-only';
import {
  getErrorShape,
  getHTTPStatusCode,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  isAsyncIterable,
  isObject,
  isPromise,
  transformTRPCResponse,
  TRPCError,
  type AnyProcedure,
  type TRPCResponse,
} from '@trpc/server/unstable-core-do-not-import';
import { logger } from '~/server/log';
import { createContext } from '~/server/trpc/init';
import { appRouter } from '~/server/trpc/root';
import { procedurePathOf } from './request-guard';

const log = logger('http');
const config = appRouter._def._config;
// The direct answers (and node-sse.ts's frames) are plain JSON, as the app's wire is (no transformer, see
// ARCHITECTURE). Should a transformer ever be configured, fail at start rather than answer in the wrong format.
const probe = {};
if (config.transformer.input.deserialize(probe) !== probe || config.transformer.output.serialize(probe) !== probe) {
  throw new Error('node-calls.ts and node-sse.ts write plain JSON; the tRPC router now has a transformer');
}

/** An answer to write: status, headers in order, and the JSON body. */
export interface CallsAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/** How many requests each way took (node-calls.integration.test.ts checks the ordinary ones are direct). */
export const callsAnswered = { direct: 0, byTrpc: 0 };

/**
 * Queries and mutations (httpLink and httpBatchLink calls) answered straight from their procedures, for
 * the production server's Node path (./node-trpc.ts), after the guard. Returns null for any request it
 * does not answer exactly as tRPC's fetch adapter would; that one goes to tRPC (./trpc-handler.ts).
 *
 * Why: measured with `npm run bench` (send phase, `--cpu-prof`), after our own handling a message.send
 * still spent a quarter of its CPU in the fetch adapter's plumbing - a Web Request built and its body
 * re-read as a stream, an AbortController and `AbortSignal.any` per call, the request info and context
 * managers, a Web Response read back into bytes. Here a call is: parse the JSON the guard already read,
 * run the procedure (tRPC's own: input validation, middlewares, the error formatter), and write the
 * JSON - in tRPC's format, with tRPC's own status rule (getHTTPStatusCode) and error shape
 * (getErrorShape); node-calls.integration.test.ts holds the two side by side on the same requests.
 *
 * Taken here: GET queries and POST mutations, single or batched, whose paths all name procedures of
 * the method's type and whose input is valid JSON. Left to tRPC (its errors, its rules): unknown paths,
 * a method that does not fit, mixed types, input that is not JSON, streaming (`trpc-accept:
 * application/jsonl`), connection params, other content types.
 */
export async function answerCalls(req: {
  method: string;
  url: URL;
  headers: Headers;
  /** The body the guard read (POST), or null (GET). */
  body: Uint8Array | null;
  /** Aborted when the client goes away (GETs: a query may stop early). */
  signal: AbortSignal | undefined;
}): Promise<CallsAnswer | null> {
  const type = req.method === 'GET' ? 'query' : req.method === 'POST' ? 'mutation' : null;
  const { searchParams } = req.url;
  if (
    !type ||
    searchParams.has('connectionParams') ||
    isStreamingCall(req.headers) ||
    (type === 'query' && req.headers.has('content-type') && !isJson(req.headers.get('content-type')))
  ) {
    return refer();
  }

  const isBatch = searchParams.get('batch') === '1';
  const path = procedurePathOf(req.url);
  if (path === null) return refer();
  const paths = isBatch ? path.split(',') : [path];
  const procedures: AnyProcedure[] = [];
  for (const p of paths) {
    const procedure = await getProcedureAtPath(appRouter, p);
    if (procedure?._def.type !== type) return refer();
    procedures.push(procedure);
  }

  // The inputs, read as tRPC reads them: `?input=` for a GET, the body for a POST; a batch's by index.
  let parsed: unknown;
  try {
    const body = req.body ?? new Uint8Array();
    const text = type === 'query' ? searchParams.get('input') : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    parsed = text === null ? undefined : JSON.parse(text);
  } catch {
    return refer();
  }
  if (isBatch && parsed !== undefined && !isObject(parsed)) return refer();
  const inputOf = (index: number): unknown =>
    parsed === undefined ? undefined : isBatch ? (parsed as Record<string, unknown>)[index] : parsed;

  callsAnswered.direct++;
  const resHeaders = new Headers();
  const ctx = createContext({ req: { headers: req.headers }, resHeaders });
  // Every call of a batch starts at once, as in tRPC.
  const results = await Promise.all(
    procedures.map(async (procedure, index): Promise<TRPCResponse> => {
      const path = paths[index]!;
      const input = inputOf(index);
      try {
        const data: unknown = await procedure({
          path,
          getRawInput: () => Promise.resolve(input),
          ctx,
          type,
          signal: req.signal,
          batchIndex: index,
        });
        if (isDataStream(data)) {
          throw new TRPCError({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
          });
        }
        return { result: { data } };
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        return { error: getErrorShape({ config, ctx, error, input, path, type }) };
      }
    }),
  );
  const untransformed = isBatch ? results : results[0]!;
  const headers: Array<[string, string]> = [
    ['vary', 'trpc-accept, accept'],
    ['content-type', 'application/json'],
  ];
  // (Each Set-Cookie comes as its own entry.)
  for (const [name, value] of resHeaders) headers.push([name, value]);
  try {
    return { status: getHTTPStatusCode(untransformed), headers, body: JSON.stringify(transformTRPCResponse(config, untransformed)) };
  } catch (cause) {
    // An answer JSON cannot carry (a BigInt, a cycle): a bug, answered as tRPC answers it - a 500 in its shape.
    log.error({ procedure: path, err: cause }, 'an answer could not be serialized');
    const error = getTRPCErrorFromUnknown(cause);
    const failed = { error: getErrorShape({ config, ctx, error, input: undefined, path: undefined, type }) };
    return { status: getHTTPStatusCode(failed), headers, body: JSON.stringify(failed) };
  }
}

function refer(): null {
  callsAnswered.byTrpc++;
  return null;
}

/** `trpc-accept: application/jsonl` (httpBatchStreamLink), or `application/jsonl` among the accepted types. */
function isStreamingCall(headers: Headers): boolean {
  const trpcAccept = headers.get('trpc-accept');
  if (trpcAccept !== null) return trpcAccept === 'application/jsonl';
  return headers.get('accept')?.split(',').some((t) => t.trim() === 'application/jsonl') ?? false;
}

function isJson(contentType: string | null): boolean {
  return contentType?.split(';', 1)[0]?.trim() === 'application/json';
}

/** As tRPC judges a result it cannot send as plain JSON. */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (isAsyncIterable(value)) return true;
  for (const v of Object.values(value)) if (isPromise(v) || isAsyncIterable(v)) return true;
  return false;
}
