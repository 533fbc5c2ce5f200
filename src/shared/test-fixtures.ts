/**
 * Data for unit tests (the client's cache rules, the AI PM prompt): one project P with one session S,
 * timestamps a second apart, and DTOs as the server sends them.
 */
import type { MessageDTO, SessionDTO } from '~/shared/types';

export const P = '00000000-0000-4000-8000-000000000001';
export const S = '00000000-0000-4000-8000-000000000002';

/** 2025-01-01T12:00:<n>Z */
export const iso = (n: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, n)).toISOString();

/** Message `seq` of session S (id m-<seq>, created at iso(seq)), with `over` applied. */
export function msg(seq: number, over: Partial<MessageDTO> = {}): MessageDTO {
  return {
    id: `m-${seq}`,
    projectId: P,
    sessionId: S,
    seq,
    authorId: 'u1',
    authorName: 'ada',
    role: 'user',
    content: `message ${seq}`,
    createdAt: iso(seq),
    updatedAt: iso(seq),
    metadata: {},
    aiResponse: null,
    confidence: null,
    status: 'delivered',
    isEdited: false,
    deleted: false,
    reactions: [],
    ...over,
  };
}

/** An active session `id` of project P with no messages, with `over` applied. */
export function session(id: string, over: Partial<SessionDTO> = {}): SessionDTO {
  return {
    id,
    projectId: P,
    title: `session ${id}`,
    description: null,
    status: 'active',
    createdAt: iso(0),
    updatedAt: iso(0),
    createdBy: 'u1',
    metadata: {},
    messageCount: 0,
    lastMessageAt: null,
    ...over,
  };
}
