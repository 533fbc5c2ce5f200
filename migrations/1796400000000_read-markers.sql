-- Up Migration
--
-- Read markers (issue 10): per user and session, the last seq the user has read. Redis keeps them
-- (keys.reads) and the markRead script appends each move to the outbox in the same call; the
-- consumer upserts them here, never backwards (a replayed or reordered older marker changes nothing),
-- and re-hydration brings them back into a Redis that lost them, so unread counts survive it.
-- No foreign keys: the outbox may deliver a marker before its session (out-of-order batches).

CREATE TABLE read_markers (
  project_id  uuid NOT NULL,
  user_id     uuid NOT NULL,
  session_id  uuid NOT NULL,
  last_read   integer NOT NULL CHECK (last_read >= 0),
  -- The outbox entry id of the move that set last_read (see versionOf): for an operator's eye.
  version     numeric NOT NULL,
  PRIMARY KEY (project_id, user_id, session_id)
);

-- Down Migration
DROP TABLE read_markers;
