import 'server-only';
import { randomUUID } from 'node:crypto';
import { aiJobFor } from '~/server/ai/enqueue';
import { env } from '~/server/env';
import { AppError, projectNotFound, toAppError } from '~/server/errors';
import { pipelineBySlot } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { scripts, type AppendMessageArgs, type AppendMessageReply, type LuaScript, type ScriptedRedis } from '~/server/redis/scripts';
import type { ChainableCommander } from 'ioredis';
import { LIMITS } from '~/shared/limits';
import { projectOutbox } from '~/server/redis/outbox-partitions';
import { mentionedNames } from '~/shared/mentions';
import type {
  InvitationDTO,
  MemberDTO,
  MessageDTO,
  MessagePage,
  MessageStatus,
  ProjectDTO,
  Role,
  SessionDTO,
  SessionStatus,
} from '~/shared/types';
import {
  decodeMessage,
  decodeProject,
  decodeSession,
  encodeMessage,
  messageAt,
  newMessage,
  parseStoredMessage,
  type StoredMessage,
} from './codec';

export interface Author {
  id: string;
  username: string;
}

export interface AppendMessageInput {
  projectId: string;
  sessionId: string;
  id: string;
  content: string;
  author: Author;
  role?: Role;
  confidence?: number;
  aiResponse?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  /** Default `delivered`; the AI PM's answer starts as `streaming`. */
  status?: MessageStatus;
  /**
   * When the message was written (ISO). Defaults to now; set when replaying a message that was sent
   * while Redis was down, so it keeps the time its author sent it.
   */
  createdAt?: string;
  /**
   * A user whose read marker of the session moves to the new message in the same atomic step: the
   * author of a user's own send (own messages are never unread, as in Slack and Zulip).
   */
  readBy?: string;
}

export interface AppendResult {
  message: MessageDTO;
  /**
   * The body as Redis stores it (and the outbox carries it), for whoever persists the message beside
   * the outbox (the replay of sends made during an outage). null: the send was kept in PostgreSQL.
   */
  stored: StoredMessage | null;
  /** false when the id had been stored before: the stored message is returned, nothing changed. */
  created: boolean;
  /** The event log entry announcing the message (null on a repeat). */
  eventId: string | null;
  /** The outbox entry carrying it to PostgreSQL (null on a repeat, or with the durable tier off). */
  outboxId: string | null;
}

export interface UpdateSessionInput {
  projectId: string;
  sessionId: string;
  title?: string | undefined;
  description?: string | undefined;
  status?: SessionStatus | undefined;
  /** Replaces the session's metadata (callers merge: read, change, write). */
  metadata?: Record<string, unknown> | undefined;
}

export interface ChatStoreOptions {
  eventLogMaxLen: number;
  /**
   * true when the durable tier is on: every write script then also appends its change to the outbox
   * partition of the project's slot, atomically. false (the default): no outbox.
   */
  outbox?: boolean;
}

/**
 * What routers, the AI PM and the legacy import use: the Redis ChatStore implements it, and so does
 * the durable tier's wrapper (src/server/durable/tiered.ts), which exists only when DATABASE_URL is
 * set. Nothing here mentions PostgreSQL.
 */
export type ChatRepository = Pick<
  ChatStore,
  | 'createProject'
  | 'listProjectsFor'
  | 'getProject'
  | 'isMember'
  | 'addMember'
  | 'invite'
  | 'listInvitations'
  | 'acceptInvite'
  | 'declineInvite'
  | 'leaveProject'
  | 'countProjectsOf'
  | 'createSession'
  | 'getSession'
  | 'listSessions'
  | 'updateSession'
  | 'appendMessage'
  | 'changeMessage'
  | 'requeueAnswer'
  | 'listMessages'
  | 'recentMessages'
>;

/** The metrics label of each repository operation (parley_store_op_duration_seconds `op`). */
export const CHAT_OPS: Record<keyof ChatRepository, string> = {
  createProject: 'project.create',
  listProjectsFor: 'project.list',
  getProject: 'project.get',
  isMember: 'member.check',
  addMember: 'member.add',
  invite: 'member.invite',
  listInvitations: 'member.invitations',
  acceptInvite: 'member.accept',
  declineInvite: 'member.decline',
  leaveProject: 'member.leave',
  countProjectsOf: 'project.count',
  createSession: 'session.create',
  getSession: 'session.get',
  listSessions: 'session.list',
  updateSession: 'session.update',
  appendMessage: 'message.send',
  changeMessage: 'message.change',
  requeueAnswer: 'message.requeue',
  listMessages: 'message.list',
  recentMessages: 'message.recent',
};

/**
 * A store operation as Redis commands that need no answer of an earlier one: `run` sends them (one
 * round trip); `queue` adds them to a caller's pipeline or MULTI instead, and `result` turns their
 * replies (`[error, reply]` each, as exec returns them) into the typed answer, throwing typed errors.
 * The durable tier queues a read or a write behind a re-hydration this way, so the re-hydration's one
 * call answers it (src/server/durable/hydrate.ts).
 */
export interface StoreCommand<T> {
  run(): Promise<T>;
  /** true for a write (on a cluster the caller then WAITs for replicas, as `run` does). */
  readonly writes: boolean;
  queue(pipeline: ChainableCommander): void;
  /** How many replies `queue` adds (the ones `result` takes, in order). */
  readonly replies: number;
  result(replies: Array<[Error | null, unknown]>): T;
}

/** The reply of a queued command, or its error as a typed AppError. */
function replyOf(entry: [Error | null, unknown] | undefined): unknown {
  if (!entry) throw new Error('missing reply');
  if (entry[0]) throw toAppError(entry[0]);
  return entry[1];
}

/**
 * The records of these projects, in order (null: the id names no project Redis holds). A plain read:
 * the store lists what is there; the durable tier also repairs what is not.
 */
export async function projectRecords(redis: ScriptedRedis, ids: string[]): Promise<(ProjectDTO | null)[]> {
  if (ids.length === 0) return [];
  // The projects' records lie in their own slots: one pipeline per slot on a cluster.
  const results = await pipelineBySlot(redis, ids, (p, pid) => p.hgetall(keys.project(pid)));
  return ids.map((_, i) => {
    const [err, record] = results[i] ?? [new Error('missing reply'), null];
    if (err) throw toAppError(err);
    const r = record as Record<string, string>;
    return r.id ? decodeProject(r) : null;
  });
}

/** Projects by most recent activity first. */
export function byActivity(projects: ProjectDTO[]): ProjectDTO[] {
  return projects.sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
}

/**
 * The ChatStore: the single storage service (SSOT) for projects, sessions and messages. It is the one
 * module that touches chat keys; routers validate and authorize, then call it. Every write is one
 * atomic Lua script that also appends its event (see ../redis/scripts.ts and ../redis/lua/).
 */
export class ChatStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly opts: ChatStoreOptions = { eventLogMaxLen: env.EVENT_LOG_MAXLEN },
  ) {
  }

  // ---------------------------------------------------------------- projects and members

  async createProject(input: { name: string; owner: Author }): Promise<ProjectDTO> {
    const now = new Date().toISOString();
    const project: ProjectDTO = {
      id: randomUUID(),
      name: input.name,
      ownerId: input.owner.id,
      createdAt: now,
      lastActivityAt: now,
    };
    await this.run(() => scripts.createProject.run(this.redis, { project: { ...project }, outbox: this.outboxFor(project.id) }));
    // The user's project index lives in the user's slot, so it cannot join the script above. It is
    // written second: a crash in between leaves an unlisted project, never a listed one without members.
    await this.run(() => this.redis.zadd(keys.userProjects(input.owner.id), Date.now(), project.id));
    return project;
  }

  /** The user's projects, most recent activity first (ids whose record is absent are left out). */
  async listProjectsFor(userId: string): Promise<ProjectDTO[]> {
    const ids = await this.run(() => this.redis.zrevrange(keys.userProjects(userId), 0, -1));
    const records = await this.run(() => projectRecords(this.redis, ids));
    return byActivity(records.filter((p) => p !== null));
  }

  getProject(projectId: string): Promise<{ project: ProjectDTO; memberIds: string[] }> {
    return this.getProjectRead(projectId).run();
  }

  /** getProject as a StoreCommand (one round trip: the record and the members). */
  getProjectRead(projectId: string): StoreCommand<{ project: ProjectDTO; memberIds: string[] }> {
    const queue = (p: ChainableCommander) => p.hgetall(keys.project(projectId)).smembers(keys.members(projectId));
    const result = (replies: Array<[Error | null, unknown]>) => {
      const record = replyOf(replies[0]) as Record<string, string>;
      const memberIds = replyOf(replies[1]) as string[];
      if (!record.id) throw projectNotFound();
      return { project: decodeProject(record), memberIds };
    };
    return {
      writes: false,
      replies: 2,
      queue,
      result,
      run: async () => {
        const p = this.redis.pipeline();
        queue(p);
        return result((await this.run(() => p.exec())) ?? []);
      },
    };
  }

  async isMember(projectId: string, userId: string): Promise<boolean> {
    return (await this.run(() => this.redis.sismember(keys.members(projectId), userId))) === 1;
  }

  /** Adds a member and announces it with `member.added`. Returns false if they already were one. */
  async addMember(projectId: string, member: MemberDTO): Promise<boolean> {
    const joinedAt = Date.now();
    const added = await this.run(() =>
      scripts.addMember.run(this.redis, { ...this.eventWrite(projectId), member, joinedAt }),
    );
    // Idempotent, so safe to repeat when a crash hit between the two slots.
    await this.run(() => this.redis.zadd(keys.userProjects(member.id), 'NX', joinedAt, projectId));
    return added;
  }

  // ---------------------------------------------------------------- invitations and leaving

  /**
   * Invites a user to a project (issue 14 item 6): a pending invitation they accept or decline, never
   * a membership by itself. Returns 'already_member' when they are one, else 'invited' (also when an
   * invitation was pending already).
   */
  async invite(
    projectId: string,
    invitee: MemberDTO,
    inviter: Author,
    maxPending: number,
  ): Promise<'invited' | 'already_member'> {
    const invitedAt = Date.now();
    const invitation = { inviterId: inviter.id, inviterName: inviter.username, invitedAt: new Date(invitedAt).toISOString() };
    const result = await this.run(() =>
      scripts.inviteMember.run(this.redis, { projectId, userId: invitee.id, invitation, maxPending }),
    );
    if (result === 'already_member') return result;
    // The invitee's list lives in their own slot: second, idempotent; a stale entry is skipped on read.
    await this.run(() => this.redis.zadd(keys.userInvites(invitee.id), 'NX', invitedAt, projectId));
    return 'invited';
  }

  /** The user's pending invitations, newest first (answered or withdrawn ones are dropped on the way). */
  async listInvitations(userId: string): Promise<InvitationDTO[]> {
    const pids = await this.run(() => this.redis.zrevrange(keys.userInvites(userId), 0, 199));
    if (pids.length === 0) return [];
    const results = await this.run(() =>
      pipelineBySlot(this.redis, pids, (p, pid) => p.hget(keys.invites(pid), userId).hget(keys.project(pid), 'name')),
    );
    const out: InvitationDTO[] = [];
    const stale: string[] = [];
    pids.forEach((pid, i) => {
      const [e1, invitation] = results[2 * i] ?? [null, null];
      const [e2, name] = results[2 * i + 1] ?? [null, null];
      if (e1 || e2) throw toAppError(e1 ?? e2);
      if (typeof invitation !== 'string' || typeof name !== 'string') {
        stale.push(pid);
        return;
      }
      const parsed = JSON.parse(invitation) as { inviterName: string; invitedAt: string };
      out.push({ projectId: pid, projectName: name, inviterName: parsed.inviterName, invitedAt: parsed.invitedAt });
    });
    if (stale.length > 0) await this.run(() => this.redis.zrem(keys.userInvites(userId), ...stale));
    return out;
  }

  /**
   * Accepts an invitation: the member joins through one script that also appends `member.added`.
   * Refused (BAD_REQUEST) when the user already belongs to `maxProjects` projects. Returns false on a
   * repeated accept (already a member).
   */
  async acceptInvite(projectId: string, member: MemberDTO, maxProjects: number): Promise<boolean> {
    const count = await this.run(() => this.redis.zcard(keys.userProjects(member.id)));
    if (count >= maxProjects) {
      throw new AppError('BAD_REQUEST', `You are in ${count} projects, the most allowed (${maxProjects}); leave one first`);
    }
    const joinedAt = Date.now();
    const joined = await this.run(() =>
      scripts.acceptInvite.run(this.redis, { ...this.eventWrite(projectId), member, joinedAt }),
    );
    // The user's two indexes live in their own slots (on a cluster, apart from each other): the
    // project list first, then the invitation list. Both steps are idempotent; a crash between them
    // leaves a stale invitation entry, which listInvitations drops on read (the invite is gone).
    await this.run(() => this.redis.zadd(keys.userProjects(member.id), 'NX', joinedAt, projectId));
    await this.run(() => this.redis.zrem(keys.userInvites(member.id), projectId));
    return joined;
  }

  /** Declines (drops) an invitation; nothing happens when there is none. */
  async declineInvite(projectId: string, userId: string): Promise<void> {
    await this.run(() => this.redis.hdel(keys.invites(projectId), userId));
    await this.run(() => this.redis.zrem(keys.userInvites(userId), projectId));
  }

  /**
   * Leaves a project: out of the member set (access ends with the next call; open streams end on the
   * `member.removed` event), the event appended, and the project out of the user's list.
   */
  async leaveProject(projectId: string, member: MemberDTO): Promise<void> {
    await this.run(() =>
      scripts.leaveProject.run(this.redis, { ...this.eventWrite(projectId), member, leftAt: Date.now() }),
    );
    await this.run(() => this.redis.zrem(keys.userProjects(member.id), projectId));
  }

  /** How many projects the user belongs to (their index; the cap on projects per user reads it). */
  async countProjectsOf(userId: string): Promise<number> {
    return this.run(() => this.redis.zcard(keys.userProjects(userId)));
  }

  // ---------------------------------------------------------------- sessions

  async createSession(input: {
    projectId: string;
    title: string;
    description?: string | undefined;
    createdBy: string;
  }): Promise<SessionDTO> {
    const now = new Date();
    const iso = now.toISOString();
    const record: Record<string, string> = {
      id: randomUUID(),
      title: input.title,
      description: input.description ?? '',
      status: 'active',
      createdAt: iso,
      updatedAt: iso,
      createdBy: input.createdBy,
      metadata: '{}',
      messageCount: '0',
      lastSeq: '0',
    };
    const sid = record.id!;
    await this.run(() =>
      scripts.createSession.run(this.redis, { ...this.eventWrite(input.projectId), sessionId: sid, record, createdAt: iso }),
    );
    return decodeSession(input.projectId, record);
  }

  getSession(projectId: string, sessionId: string): Promise<SessionDTO> {
    return this.getSessionRead(projectId, sessionId).run();
  }

  /** getSession as a StoreCommand. */
  getSessionRead(projectId: string, sessionId: string): StoreCommand<SessionDTO> {
    const key = keys.session(projectId, sessionId);
    const decode = (record: Record<string, string>) => {
      if (!record.id) throw new AppError('NOT_FOUND', 'Session not found');
      return decodeSession(projectId, record);
    };
    return {
      writes: false,
      replies: 1,
      queue: (p) => void p.hgetall(key),
      result: (replies) => decode(replyOf(replies[0]) as Record<string, string>),
      run: async () => decode(await this.run(() => this.redis.hgetall(key))),
    };
  }

  /** Sessions by most recent activity first (ids whose record is absent are left out). */
  async listSessions(projectId: string, limit = 500): Promise<SessionDTO[]> {
    const listed = await this.run(() => scripts.listSessions.run(this.redis, { projectId, limit }));
    return listed.filter(({ record }) => record.id).map(({ record }) => decodeSession(projectId, record));
  }

  updateSession(input: UpdateSessionInput): Promise<SessionDTO> {
    return this.updateSessionCommand(input).run();
  }

  /** updateSession as a StoreCommand. */
  updateSessionCommand(input: UpdateSessionInput): StoreCommand<SessionDTO> {
    const changes: Record<string, string> = {};
    if (input.metadata !== undefined) changes.metadata = JSON.stringify(input.metadata);
    if (input.title !== undefined) changes.title = input.title;
    if (input.description !== undefined) changes.description = input.description;
    if (input.status !== undefined) changes.status = input.status;
    changes.updatedAt = new Date().toISOString();
    const args = { ...this.eventWrite(input.projectId), sessionId: input.sessionId, changes };
    const decode = ({ record }: { record: Record<string, string> }) => decodeSession(input.projectId, record);
    return this.scriptCommand(scripts.updateSession, args, true, decode);
  }

  // ---------------------------------------------------------------- messages

  /**
   * Stores a message once per id: the next seq, the body, the counters, the session's recency and the
   * `message.created` event, in one script. A repeated id returns the stored message unchanged.
   */
  async appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    return (await this.appendMessageCommand(input)).run();
  }

  /** appendMessage as a StoreCommand (preparing it looks up the members the message mentions). */
  async appendMessageCommand(input: AppendMessageInput): Promise<StoreCommand<AppendResult>> {
    const now = new Date();
    const iso = input.createdAt ?? now.toISOString();
    const stored = newMessage({ ...input, createdAt: iso });

    const { projectId: pid, sessionId: sid } = input;
    // A user's message may also queue the AI PM's reply job, in the same script (src/server/ai/).
    const job = aiJobFor(input);
    const message: AppendMessageArgs = {
      ...this.eventWrite(pid),
      sessionId: sid,
      id: input.id,
      body: encodeMessage(stored),
      createdAt: iso,
      mentioned: await this.mentionedMembers(pid, input.content, input.author.id),
      ...(input.readBy ? { readBy: input.readBy } : {}),
    };
    const result = ({ created, seq, body, eventId, outboxId }: AppendMessageReply): AppendResult => {
      // Indexed, but its session's bodies are not in Redis (idle eviction, lost data): the durable
      // tier re-hydrates the session on NOT_FOUND and asks again.
      if (body === null) throw new AppError('NOT_FOUND', 'Session not found');
      // On a repeat the body is the one stored before, not the one just built.
      const kept = parseStoredMessage(body);
      return { message: messageAt(pid, sid, seq, kept), stored: kept, created, eventId, outboxId };
    };
    return job
      ? this.scriptCommand(scripts.aiAppendWithJob, { job, message }, true, result)
      : this.scriptCommand(scripts.appendMessage, message, true, result);
  }

  /**
   * Changes one message: reads it, applies `change` (which may throw, e.g. "not your message"), and
   * swaps the body in atomically with its `message.updated`/`message.deleted` event. A concurrent change
   * makes the swap fail; we then re-read and re-apply, so no change is lost.
   */
  async changeMessage(
    ref: { projectId: string; sessionId: string; id: string },
    eventType: 'message.updated' | 'message.deleted',
    change: (current: StoredMessage) => StoredMessage,
  ): Promise<MessageDTO> {
    const { projectId: pid, sessionId: sid } = ref;
    for (let attempt = 0; attempt < 10; attempt++) {
      const found = await this.run(() => scripts.readMessage.run(this.redis, { projectId: pid, id: ref.id }));
      if (found?.sessionId !== sid || found.body === null) throw new AppError('NOT_FOUND', 'Message not found');
      const { seq, body: current } = found;
      const previous = parseStoredMessage(current);
      const next = change(previous);
      // One timestamp for the message and its session's updatedAt (PostgreSQL derives one from the other).
      const now = new Date().toISOString();
      const body = encodeMessage({ ...next, updatedAt: now });
      // An edit may add or remove mentions, a delete drops them all: the script swaps the sets (who
      // the old text mentioned out, who the new one mentions in). Nothing to do when the text stays.
      const textChanged = previous.content !== next.content || Boolean(previous.deleted) !== Boolean(next.deleted);
      const mentions = textChanged ? await this.mentionSwap(pid, previous, next) : null;
      const eventId = await this.run(() =>
        scripts.replaceMessage.run(this.redis, {
          ...this.eventWrite(pid),
          sessionId: sid,
          seq,
          expected: current,
          body,
          eventType,
          now,
          ...(mentions ? { mentions } : {}),
        }),
      );
      if (eventId !== null) return decodeMessage(pid, sid, seq, body);
    }
    throw new AppError('CONFLICT', 'The message is changing too fast; please retry');
  }

  /** One page, newest page first, items in seq order; one Redis round trip. */
  listMessages(input: { projectId: string; sessionId: string; limit: number; cursor?: number | null | undefined }): Promise<MessagePage> {
    return this.listMessagesRead(input).run();
  }

  /** listMessages as a StoreCommand. */
  listMessagesRead(input: {
    projectId: string;
    sessionId: string;
    limit: number;
    cursor?: number | null | undefined;
  }): StoreCommand<MessagePage> {
    const { projectId: pid, sessionId: sid } = input;
    const limit = Math.min(Math.max(1, input.limit), LIMITS.pageSizeMax);
    const args = { projectId: pid, sessionId: sid, cursor: input.cursor ?? null, limit };
    const page = ({ top, bodies }: { top: number; bodies: (string | null)[] }): MessagePage => {
      const items: MessageDTO[] = [];
      bodies.forEach((body, i) => {
        if (body === null) throw new Error(`Session ${sid} has no body for seq ${top - i}`);
        items.push(decodeMessage(pid, sid, top - i, body));
      });
      items.reverse();
      const lowest = items[0]?.seq ?? 1;
      return { items, nextCursor: lowest > 1 ? lowest : null };
    };
    return this.scriptCommand(scripts.listMessages, args, false, page);
  }

  /**
   * The project's newest messages across all its sessions, oldest first (like a page). Messages whose
   * session's bodies Redis does not hold are left out.
   */
  async recentMessages(projectId: string, limit: number): Promise<MessageDTO[]> {
    const { messages } = await this.run(() =>
      scripts.recentMessages.run(this.redis, { projectId, limit: Math.min(limit, LIMITS.projectRecentMax) }),
    );
    return messages.map((m) => decodeMessage(projectId, m.sessionId, m.seq, m.body)).reverse();
  }

  /**
   * The AI PM's retry: swaps a failed answer's body for its reset (compare-and-set, with its event and
   * change) and queues its job again, in one script. Returns false when the body changed meanwhile
   * (the caller re-reads and retries).
   */
  async requeueAnswer(input: {
    projectId: string;
    sessionId: string;
    seq: number;
    expected: string;
    body: string;
    now: string;
    job: { questionId: string; questionSeq: number; askerId: string; answerId: string; attempt: number };
  }): Promise<boolean> {
    const { job, ...swap } = input;
    const eventId = await this.run(() =>
      scripts.aiRequeue.run(this.redis, {
        job,
        replace: { ...this.eventWrite(input.projectId), ...swap, eventType: 'message.updated' },
      }),
    );
    return eventId !== null;
  }

  // ---------------------------------------------------------------- mentions

  /**
   * The members a message body mentions (src/shared/mentions.ts), as user ids, its author left out
   * (own messages are never unread). Costs nothing for a body without `@name`; otherwise one round of
   * username lookups (one pipeline per slot on a cluster: username keys are spread over the slots) and
   * one membership check.
   */
  private async mentionedMembers(projectId: string, content: string, authorId: string): Promise<string[]> {
    const names = mentionedNames(content);
    if (names.length === 0) return [];
    const results = await this.run(() => pipelineBySlot(this.redis, names, (p, name) => p.get(keys.username(name))));
    const ids = [
      ...new Set(
        results.flatMap(([err, id]) => {
          if (err) throw toAppError(err);
          return typeof id === 'string' && id !== authorId ? [id] : [];
        }),
      ),
    ];
    if (ids.length === 0) return [];
    const member = await this.run(() => this.redis.smismember(keys.members(projectId), ...ids));
    return ids.filter((_, i) => member[i] === 1);
  }

  /** Who the old text mentioned (they lose the message) and who the new one mentions (they get it). */
  private async mentionSwap(
    projectId: string,
    previous: StoredMessage,
    next: StoredMessage,
  ): Promise<{ removed: string[]; added: string[] }> {
    const [removed, added] = await Promise.all([
      previous.deleted ? [] : this.mentionedMembers(projectId, previous.content, previous.authorId),
      next.deleted ? [] : this.mentionedMembers(projectId, next.content, next.authorId),
    ]);
    return { removed, added };
  }

  /** One Lua script call as a StoreCommand, its reply turned into the answer by `answer`. */
  private scriptCommand<A, R, T>(script: LuaScript<A, R>, args: A, writes: boolean, answer: (reply: R) => T): StoreCommand<T> {
    return {
      writes,
      replies: 1,
      queue: (p) => script.queue(p, args),
      result: (replies) => answer(script.reply(replyOf(replies[0]))),
      run: async () => answer(await this.run(() => script.run(this.redis, args))),
    };
  }

  /** What every write script that appends an event takes besides its own data. */
  private eventWrite(projectId: string) {
    return { projectId, eventLogMaxLen: this.opts.eventLogMaxLen, outbox: this.outboxFor(projectId) };
  }

  /**
   * The change feed a write of this project appends to (null: none, durable tier off): the outbox
   * partition of the project's hash slot, so the append stays in the write's script on a cluster.
   */
  private outboxFor(projectId: string): string | null {
    return this.opts.outbox ? projectOutbox(projectId) : null;
  }

  /** Runs a Redis call, turning script error replies and outages into typed AppErrors. */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw toAppError(err);
    }
  }
}
