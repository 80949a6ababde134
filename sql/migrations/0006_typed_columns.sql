-- The rules on the columns every heartbeat writes (outcome_counts, workspace_last_bump) move from
-- table CHECK constraints into the columns' types. Same rules, same rows accepted and refused.
--
-- Why. PostgreSQL re-reads a table's CHECK constraints from their stored text and re-plans them on
-- every statement that writes the table (ExecRelCheck: stringToNode + ExecPrepareExpr per
-- executor start), and the heartbeat writes both tables in every call. A type's rules are read once
-- per connection instead: an enum's labels are checked by its input function, a domain's CHECK is
-- planned once and kept in the type cache. Measured with bench/write-path.ts (docs/performance.md).
--
-- outcome: the ten outcomes of docs/heartbeat.md, an enum in the order the rule decides them
-- (functions/shared/outcomes.ts, held equal by test/integration/migrations.test.ts). The
-- reporter reads it as text (sql/queries/report-window-counts.sql), so nothing outside this schema
-- sees the type. A new outcome is `ALTER TYPE chat_heartbeat.heartbeat_outcome ADD VALUE`.
-- source: Coder names activity sources; this project only ever writes its own, `chat_heartbeat`.
-- shard: 0..15 (pg_backend_pid() % 16). heartbeats: a count, never below 1.
--
-- ALTER COLUMN ... TYPE rewrites both tables under an ACCESS EXCLUSIVE lock: they hold one row per
-- workspace ever bumped and a few retained windows of counts, so the rewrite takes milliseconds,
-- during which heartbeats wait (they do not fail).
CREATE TYPE chat_heartbeat.heartbeat_outcome AS ENUM (
  'chat_archived', 'no_workspace', 'chat_idle', 'dormant', 'not_running',
  'bump_disabled', 'no_autostop', 'not_due', 'at_max_deadline', 'bumped'
);

-- The function deployed before this migration keeps working until it is replaced. It is replaced
-- after the numbered migrations, in a transaction of its own (sql/README.md), and a heartbeat
-- already inside it when this migration commits finishes with the code it started with. That
-- function counts its outcome as a text value, and text -> enum is an explicit-only cast in
-- PostgreSQL: without this assignment cast, each of those heartbeats fails (42804) and answers 500.
-- Its other writes need nothing: integers and literals already convert to the new types.
-- (This cast was added to 0006 after its first commit, before any release: a database that had
-- applied 0006 without it was already past the moment it protects.)
CREATE CAST (text AS chat_heartbeat.heartbeat_outcome) WITH INOUT AS ASSIGNMENT;

CREATE TYPE chat_heartbeat.activity_source AS ENUM ('chat_heartbeat');

CREATE DOMAIN chat_heartbeat.counter_shard AS smallint
  CHECK (VALUE >= 0 AND VALUE < 16);

CREATE DOMAIN chat_heartbeat.heartbeat_count AS bigint
  CHECK (VALUE > 0);

ALTER TABLE chat_heartbeat.outcome_counts
  DROP CONSTRAINT outcome_counts_outcome_check,
  DROP CONSTRAINT outcome_counts_shard_check,
  DROP CONSTRAINT outcome_counts_heartbeats_check,
  ALTER COLUMN outcome TYPE chat_heartbeat.heartbeat_outcome
    USING outcome::chat_heartbeat.heartbeat_outcome,
  ALTER COLUMN shard TYPE chat_heartbeat.counter_shard,
  ALTER COLUMN heartbeats TYPE chat_heartbeat.heartbeat_count;

ALTER TABLE chat_heartbeat.workspace_last_bump
  DROP CONSTRAINT workspace_last_bump_source_check,
  ALTER COLUMN source TYPE chat_heartbeat.activity_source
    USING source::chat_heartbeat.activity_source;
