-- What kind of database this is, recorded once: did our migrations make the Coder tables (a fresh
-- database, docs/local-stack.md), or are they Coder's own? The runner applies sql/grants/function_roles.sql by
-- itself only on the former; on a real Coder database that is the operator's step (README,
-- "Deploying to AWS"), because migrations never change anything of Coder's there.
--
-- 0001 creates the subset only when public.workspaces does not exist, and did not record whether it
-- did. The tell: our subset's workspaces has exactly the columns below (docs/heartbeat.md), while Coder's has
-- many more (automatic_updates, deleting_at, favorite, …: test/support/coder-schema.ts keeps them,
-- and test/integration/function-roles.test.ts checks both answers).
CREATE TABLE IF NOT EXISTS chat_heartbeat.installation (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  -- true: the Coder tables are our subset (a fresh database); false: Coder's own.
  coder_subset boolean NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO chat_heartbeat.installation (coder_subset)
SELECT NOT EXISTS (
  SELECT FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = 'public.workspaces'::regclass
    AND a.attnum > 0
    AND NOT a.attisdropped
    AND a.attname NOT IN (
      'id', 'created_at', 'updated_at', 'owner_id', 'organization_id', 'template_id', 'deleted',
      'name', 'autostart_schedule', 'ttl', 'last_used_at', 'dormant_at', 'next_start_at'
    )
)
ON CONFLICT (singleton) DO NOTHING;

COMMENT ON TABLE chat_heartbeat.installation IS
  'Whether the Coder tables are our subset (fresh database) or Coder''s own. Written once by 0005.';
