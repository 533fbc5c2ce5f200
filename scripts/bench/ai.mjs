// AI PM: concurrent streamed answers from a scripted model at a fixed token rate. Restarts the app.
import { randomUUID } from 'node:crypto';
import { startFakeOpenAI } from '../lib/fake-openai.mjs';
import { Api, Subscriber } from './lib/http-client.mjs';
import { ourKeys } from './lib/layout.mjs';
import { SIZES, TARGETS, progress } from './lib/options.mjs';
import { closers, startApp, state, stopApp } from './lib/processes.mjs';
import { addRow, addTarget, phase, report, round } from './lib/report.mjs';
import { now, within } from './lib/workload.mjs';

/** @param {import('./index.mjs').BenchContext} ctx */
export async function run(ctx) {
  await aiPhase({ Redis: ctx.Redis });
}

/**
 * The AI PM phase (see the header): N questions at once, each answered by the scripted model at a fixed
 * token rate, followed by one SSE subscriber.
 * @param {{ Redis: typeof import('ioredis').Redis }} deps
 */
async function aiPhase({ Redis }) {
  const { generations, tokens: tokenCount, tokenMs } = SIZES.ai;
  // A plain answer (words), ending with the confidence line the AI PM parses.
  const answerTokens = Array.from({ length: tokenCount - 1 }, (_, i) => `word${i} `);
  answerTokens.push('\n\nConfidence: 0.8');
  const fake = await startFakeOpenAI({ fallback: { tokens: answerTokens, delayMs: tokenMs } });

  await stopApp();
  for (const close of closers.splice(0)) close();
  closers.push(() => void fake.close());
  const redisHandle = state.durableRedis ?? state.redisServer;
  if (!redisHandle) throw new Error('AI phase: no Redis');
  if (!redisHandle.isRunning()) await redisHandle.restart();
  const port = await startApp(redisHandle.url, {
    AI_BASE_URL: fake.url,
    AI_MODEL: 'bench-fake',
    AI_MAX_RETRIES: '0',
    AI_PROJECT_CONCURRENCY: String(generations * 2),
    AI_USER_DAILY_QUOTA: '0',
  });
  progress(`bench: AI PM: app with AI_BASE_URL=${fake.url}, ${generations} generations of ${tokenCount} tokens every ${tokenMs} ms`);
  const redis = new Redis(redisHandle.url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  const api = new Api(port, generations);
  closers.push(() => redis.disconnect(), () => api.close());

  const signUp = await api.call('POST', 'auth.signUp', { username: `bench_ai_${Date.now().toString(36)}`, password: 'bench-password-1' });
  const cookie = signUp.headers['set-cookie']?.find((c) => c.startsWith('parley_session='))?.split(';')[0];
  if (!cookie) throw new Error('AI phase: auth.signUp did not set the parley_session cookie');
  api.cookie = cookie;
  const projectId = /** @type {string} */ ((await api.mutation('project.create', { name: 'Bench AI PM' })).id);

  /**
   * One round: `generations` questions sent at once, one per session, and their answers followed by one
   * SSE subscriber until all are finished.
   * @param {string} label
   */
  async function askAll(label) {
    const sessionIds = [];
    for (let i = 0; i < generations; i++) {
      sessionIds.push(/** @type {string} */ ((await api.mutation('session.create', { projectId, title: `${label} ${i}` })).id));
    }
    /** @type {Map<string, { tag: string, sentAt: number, firstVisibleAt: number | null, deliveredAt: number | null, events: number }>} */
    const byQuestion = new Map();
    let aiEvents = 0;
    let delivered = 0;
    let failed = 0;
    /** @type {() => void} */
    let allDone = () => undefined;
    const allDonePromise = new Promise((resolve) => (allDone = () => resolve(undefined)));
    const sub = new Subscriber({
      port,
      cookie: api.cookie,
      projectId,
      onEvent: (event, _id, t) => {
        if ((event?.type !== 'message.created' && event?.type !== 'message.updated') || event.message?.role !== 'ai_pm') return;
        const q = byQuestion.get(event.message.metadata?.replyTo);
        if (!q) return;
        aiEvents++;
        q.events++;
        if (q.firstVisibleAt === null && event.message.content !== '') q.firstVisibleAt = t;
        if (q.deliveredAt === null && event.message.status !== 'streaming') {
          q.deliveredAt = t;
          if (event.message.status === 'delivered') delivered++;
          else failed++;
          if (delivered + failed === generations) allDone();
        }
      },
    });
    closers.push(() => sub.close());
    try {
      if (!(await within(sub.ready, 30_000))) throw new Error('AI phase: the subscriber was not ready within 30 s');
      const xlen0 = await redis.xlen(ourKeys.events(projectId));
      const t0 = now();
      await Promise.all(
        sessionIds.map(async (sessionId, i) => {
          const id = randomUUID();
          const tag = `[${label} q${i}]`;
          byQuestion.set(id, { tag, sentAt: now(), firstVisibleAt: null, deliveredAt: null, events: 0 });
          await api.mutation('message.send', { projectId, sessionId, id, content: `${tag} plan the launch` });
        }),
      );
      const finished = await within(allDonePromise, 120_000);
      const wallMs = now() - t0;
      const xlen1 = await redis.xlen(ourKeys.events(projectId));
      return { byQuestion, aiEvents, delivered, failed, finished, wallMs, logEntries: xlen1 - xlen0 - generations };
    } finally {
      sub.close();
    }
  }

  // A first round warms the app up (the SDK's modules and schemas, the JIT); the second is measured.
  await askAll('warm-up');
  const result = await phase(`AI PM: ${generations} concurrent streamed answers`, () => askAll('measured'), {
    ops: generations * tokenCount,
    unit: 'token',
  });

  // The model's first token of each question (the fake records when it wrote it, on this clock).
  const sendToFirst = [];
  const behindModel = [];
  const streamingMs = [];
  for (const q of result.byQuestion.values()) {
    const request = fake.requests.find((r) => String(r.messages.at(-1)?.content ?? '').includes(q.tag));
    if (q.firstVisibleAt !== null) sendToFirst.push(q.firstVisibleAt - q.sentAt);
    if (q.firstVisibleAt !== null && request?.firstTokenAt != null) behindModel.push(q.firstVisibleAt - request.firstTokenAt);
    if (q.firstVisibleAt !== null && q.deliveredAt !== null) streamingMs.push(q.deliveredAt - q.firstVisibleAt);
  }
  const firstRow = addRow('AI PM: send -> first ai_pm token in a tab', sendToFirst, undefined, `${generations} concurrent generations`);
  const behindRow = addRow('AI PM: model first token -> shown in a tab', behindModel, undefined, 'Parley overhead');
  const cpuMsPerToken = report.cpu.at(-1)?.appCpuMsPerOp ?? null;
  // What the AI SDK itself costs per token (its stream pipeline: parsing, validating and transforming
  // each SSE chunk), measured in this process on the same library and load: the part of the app's CPU
  // that is not Parley's own.
  const sdkMsPerToken = await sdkCostPerToken(fake, { generations, tokens: answerTokens, tokenMs });
  const parleyMsPerToken = cpuMsPerToken === null ? null : cpuMsPerToken - sdkMsPerToken;
  // Messages go out of the log via the session's seq, so the growth per answer is its create, its
  // batched updates (about one per AI_FLUSH_MS = 100 ms of streaming) and its final write.
  const entriesPerAnswer = result.logEntries / generations;
  const meanStreamingMs = streamingMs.reduce((a, b) => a + b, 0) / Math.max(1, streamingMs.length);
  const logBound = Math.ceil(meanStreamingMs / 100) + 3;
  report.ai = {
    generations,
    tokensPerAnswer: tokenCount,
    tokenIntervalMs: tokenMs,
    delivered: result.delivered,
    failed: result.failed,
    finished: result.finished,
    wallSeconds: round(result.wallMs / 1000, 2),
    eventsReceived: result.aiEvents,
    eventsPerSecond: round(result.aiEvents / (result.wallMs / 1000), 1),
    logEntriesPerAnswer: round(entriesPerAnswer, 1),
    meanStreamingMs: round(meanStreamingMs, 0),
    cpuMsPerToken,
    sdkCpuMsPerToken: round(sdkMsPerToken, 4),
    parleyCpuMsPerToken: parleyMsPerToken === null ? null : round(parleyMsPerToken, 4),
    firstTokenP50Ms: round(firstRow.p50),
    behindModelP50Ms: round(behindRow.p50),
    behindModelP99Ms: round(behindRow.p99),
  };
  if (!result.finished || result.delivered !== generations) {
    report.failures.push(`AI PM: ${result.delivered}/${generations} answers delivered (${result.failed} failed) within 120 s`);
  }
  addTarget('AI PM: first token in a tab behind the model, p50', `<= ${TARGETS.aiFirstTokenOverheadMs} ms`, behindRow.p50, 'ms', behindRow.p50 <= TARGETS.aiFirstTokenOverheadMs);
  addTarget(
    'AI PM: app CPU per streamed token, less the AI SDK',
    `<= ${TARGETS.aiCpuMsPerToken} ms`,
    parleyMsPerToken ?? NaN,
    'ms',
    parleyMsPerToken !== null && parleyMsPerToken <= TARGETS.aiCpuMsPerToken,
  );
  addTarget('AI PM: event log entries per answer', `<= ${logBound} (1 per 100 ms + 3)`, entriesPerAnswer, 'entries', entriesPerAnswer <= logBound);
}

/**
 * CPU per token of the AI SDK alone, measured in this process as the app meets it: `generations` streams
 * at once from the scripted server, one token every `tokenMs` (each token its own network read, so the
 * SDK's per-chunk stream plumbing is paid per token, as in the app), read through streamText's
 * fullStream - less the same streams read with a plain fetch (the scripted server's own cost, and
 * the HTTP client's). An unpaced run of each comes first (modules, schemas, JIT).
 * @param {{ url: string, enqueue: (...s: Array<{ tokens?: string[], delayMs?: number }>) => void }} fake
 * @param {{ generations: number, tokens: string[], tokenMs: number }} load
 */
async function sdkCostPerToken(fake, { generations, tokens, tokenMs }) {
  const [{ streamText }, { createOpenAICompatible }] = await Promise.all([import('ai'), import('@ai-sdk/openai-compatible')]);
  const model = createOpenAICompatible({ name: 'bench', baseURL: fake.url, includeUsage: true }).chatModel('bench-fake');
  const viaSdk = async () => {
    const r = streamText({ model, prompt: 'bench', maxRetries: 0, onError: () => undefined });
    for await (const part of r.fullStream) void part;
  };
  const viaFetch = async () => {
    const res = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bench-fake', messages: [{ role: 'user', content: 'bench' }], stream: true }),
    });
    if (!res.body) return;
    for await (const chunk of res.body) void chunk;
  };
  /** CPU ms of `count` concurrent streams read with `read`, each scripted as `script`. */
  const cpuOf = async (/** @type {() => Promise<void>} */ read, /** @type {number} */ count, /** @type {{ tokens: string[], delayMs?: number }} */ script) => {
    fake.enqueue(...Array.from({ length: count }, () => script));
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: count }, read));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  await cpuOf(viaSdk, 1, { tokens });
  await cpuOf(viaFetch, 1, { tokens });
  const paced = { tokens, delayMs: tokenMs };
  const sdk = await cpuOf(viaSdk, generations, paced);
  const plain = await cpuOf(viaFetch, generations, paced);
  return Math.max(0, sdk - plain) / (generations * tokens.length);
}
