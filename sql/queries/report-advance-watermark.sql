-- Marks everything before untilEpoch as reported, in the run's transaction.
-- Parameters: untilEpoch (bigint).
UPDATE chat_heartbeat.report_watermark
SET reported_until = to_timestamp(:untilEpoch::bigint), updated_at = now()
WHERE singleton
