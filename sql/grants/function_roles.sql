-- The PostgreSQL roles the two functions log in as through the Data API, and exactly what each may
-- do (issue 13 item 7). The functions never use the admin/master login: each one's Data API secret
-- (Secrets Manager: {"username": <role>, "password": <generated>}) names its own role below.
--
--   chat_heartbeat_heartbeat  runs chat_heartbeat.record_heartbeat (sql/queries/heartbeat.sql).
--     Coder's tables: SELECT on exactly the columns the function reads, UPDATE on exactly the three
--     it writes (workspaces.last_used_at, workspace_builds.deadline, workspace_builds.updated_at).
--     No INSERT, DELETE, TRUNCATE or any other column of Coder's.
--     Ours: EXECUTE on the function; insert/increment its outcome count; upsert the last bump.
--   chat_heartbeat_reporter   runs sql/queries/report-*.sql and prune-outcome-counts.sql.
--     Nothing on Coder's tables. Ours: read and prune outcome_counts, lock and advance the watermark.
--
-- Who runs it:
--   * a fresh database (the Coder-subset tables were created by our migrations): `npm run migrate`
--     applies it after the migrations, every time it applies anything (tools/migrate/runner.ts);
--   * a real Coder database (docs/local-stack.md: migrations create only the chat_heartbeat schema there): the
--     operator, once after `npm run migrate` and again after any later migration, with
--     `npm run migrate -- --grants` (also sets each role's password from its secret), or this file
--     through psql as a role that may create roles and grant on Coder's five tables.
-- Idempotent: roles are created only when missing; every grant is first revoked, then given, in one
-- transaction, so re-running it leaves exactly the privileges below (also after a function was
-- dropped and re-created). No password is in this file: a role is created LOGIN without one, so it
-- cannot log in until its password is set from its secret (ALTER ROLE … PASSWORD, sent as a SCRAM
-- verifier computed client-side: tools/migrate/role-passwords.ts).
--
-- Why column-level SELECT on Coder's tables: chats carry titles and errors, workspaces and builds
-- carry more than the heartbeat needs; the role reads only what the rule reads. A column Coder
-- drops would make this script fail loudly, not grant something else.
--
-- Triggers. Coder's one trigger that fires on these writes, AFTER UPDATE ON workspaces
-- (nullify_next_start_at_on_workspace_autostart_modification, coderd/database/dump.sql), is not
-- SECURITY DEFINER: it runs as the heartbeat role. Reading NEW/OLD needs no privilege; its own
-- `UPDATE workspaces SET next_start_at = NULL` runs only when the schedule changed or the workspace
-- is dormant, which the heartbeat's last_used_at write (… WHERE dormant_at IS NULL) never is, so the
-- role has no privilege on next_start_at. Coder writes `workspaces` unqualified there, which is why
-- the heartbeat role logs in with `public` on its search_path (below). No trigger fires on
-- workspace_builds.

-- Roles are cluster-wide: create each once. Concurrent runs on two databases of one server can
-- both see it missing; the loser's duplicate is ignored.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['chat_heartbeat_heartbeat', 'chat_heartbeat_reporter'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
      BEGIN
        EXECUTE format(
          'CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS',
          role_name
        );
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
    -- A role someone else made with more power than this file gives is refused, not used.
    IF EXISTS (
      SELECT FROM pg_catalog.pg_roles
      WHERE rolname = role_name AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)
    ) THEN
      RAISE EXCEPTION 'role % exists with SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB: refusing to use it', role_name;
    END IF;
  END LOOP;
END
$$;

-- The heartbeat role's sessions resolve names through a fixed search path, set on the role so it
-- costs nothing per call (record_heartbeat has no SET clause, see its header): `public` for Coder's
-- trigger, `pg_temp` last so no temporary object of the session can stand in for a table.
ALTER ROLE chat_heartbeat_heartbeat SET search_path = pg_catalog, public, pg_temp;

-- Start from nothing on everything the roles could touch, so re-running removes any grant that is
-- no longer listed below (a table-level REVOKE also revokes the same privileges on every column).
REVOKE ALL ON public.chats, public.workspaces, public.templates, public.workspace_builds,
  public.provisioner_jobs FROM chat_heartbeat_heartbeat, chat_heartbeat_reporter;
REVOKE ALL ON ALL TABLES IN SCHEMA chat_heartbeat FROM chat_heartbeat_heartbeat, chat_heartbeat_reporter;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chat_heartbeat FROM chat_heartbeat_heartbeat, chat_heartbeat_reporter;
REVOKE ALL ON SCHEMA chat_heartbeat FROM chat_heartbeat_heartbeat, chat_heartbeat_reporter;

-- Nobody but the heartbeat role runs the heartbeat (functions are EXECUTE to PUBLIC by default).
REVOKE EXECUTE ON FUNCTION chat_heartbeat.record_heartbeat(uuid, uuid, bigint) FROM PUBLIC;

-- The heartbeat role.
GRANT USAGE ON SCHEMA public, chat_heartbeat TO chat_heartbeat_heartbeat;
GRANT EXECUTE ON FUNCTION chat_heartbeat.record_heartbeat(uuid, uuid, bigint) TO chat_heartbeat_heartbeat;
-- Step 1 of the rule (the one read) and the columns the two UPDATEs' WHERE and RETURNING read.
GRANT SELECT (id, owner_id, workspace_id, archived, status) ON public.chats TO chat_heartbeat_heartbeat;
GRANT SELECT (id, owner_id, template_id, deleted, last_used_at, dormant_at, autostart_schedule,
  next_start_at, ttl) ON public.workspaces TO chat_heartbeat_heartbeat;
GRANT SELECT (id, allow_user_autostop, default_ttl, activity_bump) ON public.templates
  TO chat_heartbeat_heartbeat;
GRANT SELECT (id, workspace_id, build_number, transition, job_id, deadline, max_deadline)
  ON public.workspace_builds TO chat_heartbeat_heartbeat;
GRANT SELECT (id, completed_at) ON public.provisioner_jobs TO chat_heartbeat_heartbeat;
-- The only writes to Coder's tables: mark used, bump the deadline.
GRANT UPDATE (last_used_at) ON public.workspaces TO chat_heartbeat_heartbeat;
GRANT UPDATE (deadline, updated_at) ON public.workspace_builds TO chat_heartbeat_heartbeat;
-- Count the outcome: INSERT … ON CONFLICT DO UPDATE SET heartbeats = counts.heartbeats + 1 (the
-- upsert reads the conflict key and the count).
GRANT SELECT (bucket_start, outcome, shard, heartbeats),
  INSERT (bucket_start, outcome, shard, heartbeats),
  UPDATE (heartbeats) ON chat_heartbeat.outcome_counts TO chat_heartbeat_heartbeat;
-- Record the last bump: INSERT … ON CONFLICT (workspace_id) DO UPDATE SET col = excluded.col (the
-- conflict target and every column read through `excluded` need SELECT: all five).
GRANT SELECT (workspace_id, bumped_at, source, chat_id, deadline),
  INSERT (workspace_id, bumped_at, source, chat_id, deadline),
  UPDATE (bumped_at, source, chat_id, deadline) ON chat_heartbeat.workspace_last_bump
  TO chat_heartbeat_heartbeat;

-- The reporter role: nothing of Coder's (not even USAGE on public is granted here; PUBLIC's default
-- USAGE there gives it no table).
GRANT USAGE ON SCHEMA chat_heartbeat TO chat_heartbeat_reporter;
-- report-window-counts.sql, report-lock-watermark.sql (min(bucket_start)), prune-outcome-counts.sql
-- (DELETE … WHERE ctid = ANY (…): a system column, so the table-level SELECT).
GRANT SELECT, DELETE ON chat_heartbeat.outcome_counts TO chat_heartbeat_reporter;
-- report-lock-watermark.sql (SELECT … FOR UPDATE needs UPDATE) and report-advance-watermark.sql.
GRANT SELECT ON chat_heartbeat.report_watermark TO chat_heartbeat_reporter;
GRANT UPDATE (reported_until, updated_at) ON chat_heartbeat.report_watermark TO chat_heartbeat_reporter;
