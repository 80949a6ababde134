-- The last bump per workspace (docs/heartbeat.md step 3): when a chat heartbeat last moved the deadline of the
-- workspace's build, and which chat did it. Answers "why is my workspace still on?"
-- (coder/coder#17320). Coder's own tables have no column for it, so it lives in our schema.
--
-- One row per workspace, overwritten by each bump (sql/functions/record_heartbeat.sql): the table
-- stays as small as the number of workspaces ever bumped. No foreign key to public.workspaces: a
-- reference would add triggers to a table of Coder's, and migrations never alter Coder's schema on a
-- real Coder database. A deleted workspace's row is harmless and says when it was last kept alive.
CREATE TABLE IF NOT EXISTS chat_heartbeat.workspace_last_bump (
  workspace_id uuid PRIMARY KEY,
  bumped_at timestamptz NOT NULL,
  -- Named after Coder's activity sources; this project only ever writes its own.
  source text NOT NULL CHECK (source = 'chat_heartbeat'),
  chat_id uuid NOT NULL,
  -- The deadline the bump set.
  deadline timestamptz NOT NULL
);

COMMENT ON TABLE chat_heartbeat.workspace_last_bump IS
  'Per workspace, the last chat heartbeat that moved its deadline. Written by chat_heartbeat.record_heartbeat.';
