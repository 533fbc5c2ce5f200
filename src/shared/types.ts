/** The DTOs the API returns and the events it streams: the wire contract, shared by both sides. */

export type Role = 'user' | 'ai_pm';
export type MessageStatus = 'delivered' | 'streaming' | 'failed';
export type SessionStatus = 'active' | 'archived';
export type PresenceState = 'active' | 'idle';

export interface PresenceDTO {
  userId: string;
  state: PresenceState;
  /** Ms since the epoch until which the last heartbeat holds. */
  until: number;
}

export interface UserDTO {
  id: string;
  username: string;
  createdAt: string;
}

export interface ProjectDTO {
  id: string;
  name: string;
  ownerId: string;
  createdAt: string;
  /** Most recent activity in any session (ISO), or createdAt when there is none. */
  lastActivityAt: string;
}

export interface MemberDTO {
  id: string;
  username: string;
}

/**
 * The signed-in user as pages and components know them (`auth.me`): the same shape as a member of a
 * project, so the viewer can be looked up in and compared with a project's members.
 */
export type Viewer = MemberDTO;

export interface ProjectDetailDTO extends ProjectDTO {
  members: MemberDTO[];
}

export interface SessionDTO {
  id: string;
  projectId: string;
  title: string;
  description: string | null;
  status: SessionStatus;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  metadata: Record<string, unknown>;
  messageCount: number;
  lastMessageAt: string | null;
}

export interface ReactionDTO {
  emoji: string;
  userId: string;
}

export interface MessageDTO {
  id: string;
  projectId: string;
  sessionId: string;
  seq: number;
  authorId: string;
  authorName: string;
  role: Role;
  content: string;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, unknown>;
  aiResponse: Record<string, unknown> | null;
  confidence: number | null;
  status: MessageStatus;
  isEdited: boolean;
  deleted: boolean;
  reactions: ReactionDTO[];
}

export interface MessagePage {
  items: MessageDTO[];
  /** Pass as `cursor` to read the page before this one; null at the start of the session. */
  nextCursor: number | null;
}

/**
 * What `events.subscribe` yields (each wrapped in tracked(<stream id>, event)).
 * Every event carries the full new state of what changed, so a cache can apply it without a refetch.
 */
export type ChatEvent =
  | { type: 'message.created'; message: MessageDTO }
  | { type: 'message.updated'; message: MessageDTO }
  | { type: 'message.deleted'; message: MessageDTO }
  | { type: 'session.created'; session: SessionDTO }
  | { type: 'session.updated'; session: SessionDTO }
  | { type: 'member.added'; projectId: string; member: MemberDTO }
  /** A member left: they lose access at once (their open streams end after this event). */
  | { type: 'member.removed'; projectId: string; member: MemberDTO }
  /**
   * Only on the reader's own streams (never in the shared log): their read marker of a session moved
   * (another tab or device read it).
   */
  | { type: 'read.updated'; projectId: string; sessionId: string; lastRead: number }
  /** Ephemeral: a member's browser is here (`until`: ms epoch the heartbeat holds). */
  | { type: 'presence'; projectId: string; userId: string; state: PresenceState; until: number }
  /** Ephemeral (pub/sub, never in the log): a member started or stopped typing in a session. */
  | { type: 'typing'; projectId: string; sessionId: string; userId: string; username: string; typing: boolean }
  /** First event of a fresh subscription (no lastEventId): the log position the tab now follows. */
  | { type: 'ready'; projectId: string }
  /** The tab's lastEventId fell out of the trimmed log: refetch everything shown for this project. */
  | { type: 'resync'; projectId: string };


/** An invitation the signed-in user has not answered yet (`project.invitations`). */
export interface InvitationDTO {
  projectId: string;
  projectName: string;
  inviterName: string;
  invitedAt: string;
}
