-- Accepted heartbeats per window and outcome in [fromEpoch, toEpoch), summed over the shards.
-- Windows start at multiples of windowSeconds since the Unix epoch, like the count buckets.
-- Parameters: fromEpoch, toEpoch, windowSeconds (bigint). The outcome is read as text: its column
-- type (an enum, sql/migrations/0006_typed_columns.sql) stays inside our schema.
SELECT
  (floor(extract(epoch FROM c.bucket_start) / :windowSeconds::bigint) * :windowSeconds::bigint)::bigint
    AS window_start_epoch,
  c.outcome::text AS outcome,
  sum(c.heartbeats)::bigint AS heartbeats
FROM chat_heartbeat.outcome_counts c
WHERE c.bucket_start >= to_timestamp(:fromEpoch::bigint)
  AND c.bucket_start < to_timestamp(:toEpoch::bigint)
GROUP BY 1, 2
ORDER BY 1, 2
