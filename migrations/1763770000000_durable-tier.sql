-- Up Migration
--
-- Parley's durable tier: PostgreSQL copy of everything Redis holds, written behind by the outbox
-- consumer (src/server/durable/persist.ts) and read while Redis is down or after it lost data.
--
-- No foreign keys on purpose: outbox entries are applied by several consumers in batches, so a message
-- may land before its session. Integrity comes from Redis, where every write is one atomic script.
-- `version` is the outbox entry id (ms * 1e9 + n) of the change a row reflects: an upsert only
-- replaces a row with an older version, so a late or reclaimed entry never undoes a newer change.

CREATE TABLE users (
  id             uuid PRIMARY KEY,
  username       text NOT NULL,
  password_hash  text NOT NULL,
  created_at     timestamptz NOT NULL,
  version        numeric(38, 0) NOT NULL
);
-- Usernames are unique case-insensitively, as in Redis (username:<lower>).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TABLE projects (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  owner_id    uuid NOT NULL,
  created_at  timestamptz NOT NULL,
  version     numeric(38, 0) NOT NULL
);

CREATE TABLE project_members (
  project_id  uuid NOT NULL,
  user_id     uuid NOT NULL,
  joined_at   timestamptz NOT NULL,
  PRIMARY KEY (project_id, user_id)
);
-- project.list: the projects of a user.
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE sessions (
  id           uuid PRIMARY KEY,
  project_id   uuid NOT NULL,
  title        text NOT NULL,
  description  text,
  status       text NOT NULL CHECK (status IN ('active', 'archived')),
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  created_by   text NOT NULL,
  metadata     jsonb NOT NULL DEFAULT '{}',
  version      numeric(38, 0) NOT NULL
);
-- session.list: a project's sessions.
CREATE INDEX sessions_project_idx ON sessions (project_id, created_at DESC);

CREATE TABLE messages (
  project_id   uuid NOT NULL,
  id           uuid NOT NULL,
  session_id   uuid NOT NULL,
  seq          integer NOT NULL CHECK (seq > 0),
  author_id    text NOT NULL,
  author_name  text NOT NULL,
  role         text NOT NULL CHECK (role IN ('user', 'ai_pm')),
  content      text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  metadata     jsonb NOT NULL DEFAULT '{}',
  ai_response  jsonb,
  confidence   double precision,
  status       text NOT NULL CHECK (status IN ('delivered', 'streaming', 'failed')),
  is_edited    boolean NOT NULL DEFAULT false,
  deleted      boolean NOT NULL DEFAULT false,
  reactions    jsonb NOT NULL DEFAULT '[]',
  version      numeric(38, 0) NOT NULL,
  -- Message ids are client-minted; Redis keeps them unique per project, and so do we.
  PRIMARY KEY (project_id, id),
  -- message.list: a session's messages by seq (one seq, one message).
  CONSTRAINT messages_session_seq_key UNIQUE (session_id, seq)
);
-- chat.history without a session: a project's most recent messages.
CREATE INDEX messages_project_recent_idx ON messages (project_id, created_at DESC, seq DESC);

-- A message displaced from its (session, seq) by a newer one with another id. Only happens when Redis
-- lost acknowledged writes that PostgreSQL had already received (e.g. a power loss within AOF's
-- one-second fsync window) and then reused the seq: Redis is the seq authority, so the newer message
-- takes the slot and the older one is kept here for an operator instead of being dropped.
CREATE TABLE message_conflicts (
  conflict_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  displaced_at timestamptz NOT NULL DEFAULT now(),
  project_id   uuid NOT NULL,
  id           uuid NOT NULL,
  session_id   uuid NOT NULL,
  seq          integer NOT NULL,
  author_id    text NOT NULL,
  author_name  text NOT NULL,
  role         text NOT NULL,
  content      text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  metadata     jsonb NOT NULL,
  ai_response  jsonb,
  confidence   double precision,
  status       text NOT NULL,
  is_edited    boolean NOT NULL,
  deleted      boolean NOT NULL,
  reactions    jsonb NOT NULL,
  version      numeric(38, 0) NOT NULL
);

-- Login sessions (only the SHA-256 of the token, as in Redis), so a user stays signed in through a
-- Redis outage and after Redis lost its data. A sign-out leaves a tombstone (revoked_at), so a late
-- outbox entry of the sign-in cannot bring the session back.
CREATE TABLE login_sessions (
  token_hash  text PRIMARY KEY,
  user_id     uuid,
  username    text,
  expires_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_sessions_expires_idx ON login_sessions (expires_at);

-- Messages sent while Redis was down. Redis is the seq authority, so they get no seq here: reads show
-- them after the session's last known seq (provisional), and when Redis is back they are replayed into
-- it in order through the normal idempotent append, which gives them their final seqs.
CREATE TABLE pending_messages (
  project_id   uuid NOT NULL,
  id           uuid NOT NULL,
  session_id   uuid NOT NULL,
  author_id    text NOT NULL,
  author_name  text NOT NULL,
  role         text NOT NULL,
  content      text NOT NULL,
  metadata     jsonb NOT NULL DEFAULT '{}',
  ai_response  jsonb,
  confidence   double precision,
  created_at   timestamptz NOT NULL,
  -- Set when the replay was refused for good (e.g. the session no longer exists); kept for an operator.
  failed_at    timestamptz,
  failure      text,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX pending_messages_session_idx ON pending_messages (session_id, created_at, id);
CREATE INDEX pending_messages_replay_idx ON pending_messages (created_at, id) WHERE failed_at IS NULL;

-- Down Migration
DROP TABLE pending_messages;
DROP TABLE login_sessions;
DROP TABLE message_conflicts;
DROP TABLE messages;
DROP TABLE sessions;
DROP TABLE project_members;
DROP TABLE projects;
DROP TABLE users;
