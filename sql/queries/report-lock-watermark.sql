-- Locks the watermark for this reporter run and reads what the run needs to choose its windows.
-- Times travel as epoch seconds: plain numbers, no time zone anywhere.
-- Parameters: none.
SELECT
  extract(epoch FROM w.reported_until)::float8 AS reported_until_epoch,
  extract(epoch FROM now())::float8 AS now_epoch,
  (
    SELECT extract(epoch FROM min(c.bucket_start))::float8
    FROM chat_heartbeat.outcome_counts c
    WHERE w.reported_until IS NULL OR c.bucket_start >= w.reported_until
  ) AS earliest_epoch
FROM chat_heartbeat.report_watermark w
WHERE w.singleton
FOR UPDATE OF w
