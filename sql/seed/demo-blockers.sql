-- The columns of the five Coder tables that demo.sql cannot fill: NOT NULL, no default, not
-- generated, and not among the columns it gives (`filled`, "table.column" joined by commas). None
-- on our subset; on Coder's real tables, for example chats.last_model_config_id. A row needs a
-- value for each, which only Coder itself can give meaningfully: the demo refuses to seed there.
SELECT c.table_name || '.' || c.column_name AS blocker
FROM information_schema.columns c
WHERE c.table_schema = 'public'
  AND c.table_name IN ('templates', 'workspaces', 'provisioner_jobs', 'workspace_builds', 'chats')
  AND c.is_nullable = 'NO'
  AND c.column_default IS NULL
  AND c.is_generated = 'NEVER'
  AND NOT (c.table_name || '.' || c.column_name = ANY (string_to_array(:filled, ',')))
ORDER BY 1
