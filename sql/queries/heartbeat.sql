-- One chat heartbeat: the whole rule is chat_heartbeat.record_heartbeat
-- (sql/functions/record_heartbeat.sql). This is all the Data API receives: one plain SELECT, so
-- formatRecordsAs applies, with no comment, `;` or literal for its parameter scanner to misread
-- once the loader has stripped this header.
SELECT outcome, workspace_id, deadline_ms, max_deadline_ms, last_used_at_ms, next_heartbeat_seconds
FROM chat_heartbeat.record_heartbeat(CAST(:chatId AS uuid), CAST(:userId AS uuid), CAST(:bucketSeconds AS bigint))
