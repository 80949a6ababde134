-- Deletes one bounded batch of counts older than the retention AND already reported: a count is
-- never dropped before it has been reported, however long the reporter was down.
-- Seconds, not days, so the session time zone (DST) cannot shift the cut-off.
-- Parameters: retentionSeconds, batchSize (bigint).
DELETE FROM chat_heartbeat.outcome_counts
WHERE ctid = ANY (ARRAY(
  SELECT c.ctid
  FROM chat_heartbeat.outcome_counts c
  WHERE c.bucket_start < now() - :retentionSeconds::bigint * interval '1 second'
    AND c.bucket_start < (SELECT reported_until FROM chat_heartbeat.report_watermark WHERE singleton)
  LIMIT :batchSize::bigint
))
