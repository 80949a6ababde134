-- The state of the project lives in its own schema, never in the Coder tables (docs/heartbeat.md). The
-- bootstrap of the runner already created it; IF NOT EXISTS keeps this migration self-contained.
CREATE SCHEMA IF NOT EXISTS chat_heartbeat;

-- Outcome counters (docs/reporter.md), written by the heartbeat statement itself so counts always agree with
-- the writes they describe. One row per (bucket, outcome, shard): a heartbeat adds 1 to the row of
-- its shard, `pg_backend_pid() % 16`. Concurrent statements run on different backends, so they
-- rarely queue on the same row lock, where a single row per outcome would serialise every heartbeat
-- behind the commit of the previous one. Readers sum over the shards.
--
-- `bucket_start` is a multiple of the bucket width (the report window) since the Unix epoch, so
-- windows line up regardless of time zone and buckets never straddle a window boundary.
-- The primary key serves both the upsert and the range scans of the reporter by bucket_start.
CREATE TABLE IF NOT EXISTS chat_heartbeat.outcome_counts (
  bucket_start timestamptz NOT NULL,
  outcome text NOT NULL CHECK (
    outcome IN (
      'bumped', 'not_due', 'not_running', 'no_autostop', 'bump_disabled',
      'at_max_deadline', 'dormant', 'no_workspace', 'chat_archived', 'chat_idle'
    )
  ),
  shard smallint NOT NULL CHECK (shard >= 0 AND shard < 16),
  heartbeats bigint NOT NULL CHECK (heartbeats > 0),
  PRIMARY KEY (bucket_start, outcome, shard)
)
-- Every heartbeat rewrites a row in place; free room on the page keeps those updates HOT.
WITH (fillfactor = 50);

COMMENT ON TABLE chat_heartbeat.outcome_counts IS
  'Accepted heartbeats per outcome and bucket; sum over shard. Written by sql/queries/heartbeat.sql.';
