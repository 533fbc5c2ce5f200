/** Input limits, shared by the forms and the API so both say the same thing. */
export const LIMITS = {
  messageContentMax: 8000,
  sessionTitleMax: 200,
  sessionDescriptionMax: 2000,
  projectNameMax: 100,
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 256,
  pageSizeDefault: 50,
  pageSizeMax: 200,
  /** A reaction is one emoji; a ZWJ family sequence is 11 UTF-16 units, so this leaves room. */
  reactionMaxLength: 32,
  /** Reactions one user may have on one message (different emoji). */
  reactionsPerUserPerMessage: 10,
  /** Different emoji on one message, all users together. */
  distinctReactionsPerMessage: 20,
  /** Projects per page of `project.list`. */
  projectPageDefault: 50,
  projectPageMax: 200,
  /** How many recent messages per project `chat.history` can reach across sessions. */
  projectRecentMax: 1000,
  /**
   * Calls in one batched HTTP request to /api/trpc (the browser's batch link splits at this size).
   * Auth procedures never share a batch with anything (see src/server/http/request-guard.ts).
   */
  requestBatchMax: 10,
  /**
   * Bytes in one request body to /api/trpc. A full batch of maximal messages whose every character
   * JSON-escapes to 6 bytes is about 480 KB, so no honest request comes near it.
   */
  requestBodyMaxBytes: 1024 * 1024,
} as const;

/**
 * Typing notifications, with Zulip's intervals (zulip/web/src/typing_status.ts and the server's
 * typing settings): a typing tab sends "start" at most once per `startedWaitMs` while keys are
 * pressed, and "stop" after `stoppedWaitMs` without a key (or at once on send/blur); a receiver drops
 * a typist it has not heard from for `startedExpiryMs`, so a tab that dies stops "typing" by itself.
 */
/**
 * Presence: the leader tab of each browser (one per project, see src/client/event-sync.ts) sends a
 * heartbeat every `heartbeatMs`; a member counts as here until `expiryMs` after the last one, so a
 * closed browser drops out within that time. "idle": the leader tab is hidden or has seen no input
 * for `idleAfterMs` (Zulip: idle after 5 minutes; its 60 s ping and 140 s offline threshold are
 * shortened here so the members panel is fresher).
 */
export const PRESENCE = {
  heartbeatMs: 20_000,
  expiryMs: 50_000,
  idleAfterMs: 5 * 60_000,
} as const;

export const TYPING = {
  startedWaitMs: 10_000,
  stoppedWaitMs: 5_000,
  startedExpiryMs: 15_000,
} as const;
