-- The subset of the Coder control-plane schema the heartbeat reads and writes (docs/heartbeat.md), modelled on
-- coderd/database/dump.sql: same names, types, defaults and NOT NULLs, minus everything we never
-- touch. Columns Coder adds later elsewhere are not our concern.
--
-- Created only on a fresh database: on a real Coder database `public.workspaces` already exists and
-- must be left exactly as Coder made it (docs/local-stack.md). One DO block, because PL/pgSQL runs DDL directly
-- and the check and the DDL then share the transaction of the migration.
--
-- Checked against coderd/database/dump.sql of coder/coder main (commit 0001d501), column by column:
-- test/integration/coder-schema.test.ts keeps those facts and fails if this subset drifts from them.
-- Coder's NOT NULL columns without a default (templates.provisioner, chats.last_model_config_id,
-- workspace_builds.template_version_id, ...) stay out: a row that gives the docs/heartbeat.md columns must
-- always be a valid row here.
--
-- Foreign keys only among these five tables (the users/organizations of Coder are not part of the
-- subset). No extra indexes: the heartbeat reads chats, workspaces, templates and jobs by primary
-- key and the latest build through the unique (workspace_id, build_number) index. No indexed
-- column is ever written by the heartbeat, so its updates stay HOT (no index maintenance).
DO $$
BEGIN
  IF to_regclass('public.workspaces') IS NOT NULL THEN
    RAISE NOTICE 'public.workspaces exists: leaving the Coder tables alone';
    RETURN;
  END IF;

  CREATE TYPE public.workspace_transition AS ENUM ('start', 'stop', 'delete');

  CREATE TYPE public.chat_status AS ENUM (
    'waiting', 'pending', 'running', 'paused', 'completed', 'error', 'requires_action'
  );

  CREATE TABLE public.templates (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    organization_id uuid NOT NULL,
    name varchar(64) NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    -- Durations are nanoseconds, as time.Duration in Go stores them.
    default_ttl bigint NOT NULL DEFAULT 604800000000000,
    allow_user_autostop boolean NOT NULL DEFAULT true,
    activity_bump bigint NOT NULL DEFAULT 3600000000000
  );

  CREATE TABLE public.workspaces (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    deleted boolean NOT NULL DEFAULT false,
    name varchar(64) NOT NULL,
    autostart_schedule text,
    ttl bigint,
    -- The zero time means "never used", as in Coder.
    last_used_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    dormant_at timestamptz,
    next_start_at timestamptz
  );

  CREATE TABLE public.provisioner_jobs (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    canceled_at timestamptz,
    completed_at timestamptz,
    error text,
    organization_id uuid NOT NULL
  );

  CREATE TABLE public.workspace_builds (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    build_number integer NOT NULL,
    transition public.workspace_transition NOT NULL,
    job_id uuid NOT NULL REFERENCES public.provisioner_jobs (id) ON DELETE CASCADE,
    deadline timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    max_deadline timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    -- Also serves "latest build of a workspace" (ORDER BY build_number DESC LIMIT 1).
    CONSTRAINT workspace_builds_workspace_id_build_number_key UNIQUE (workspace_id, build_number),
    CONSTRAINT workspace_builds_job_id_key UNIQUE (job_id),
    CONSTRAINT workspace_builds_deadline_below_max_deadline CHECK (
      (deadline <> '0001-01-01 00:00:00+00' AND deadline <= max_deadline)
      OR max_deadline = '0001-01-01 00:00:00+00'
    )
  );

  CREATE TABLE public.chats (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    workspace_id uuid REFERENCES public.workspaces (id) ON DELETE SET NULL,
    status public.chat_status NOT NULL DEFAULT 'waiting',
    archived boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );

  -- Coder's one trigger on these tables that fires on our writes (AFTER UPDATE ON workspaces): a
  -- changed autostart schedule (with next_start_at unchanged) or a dormant workspace invalidates
  -- next_start_at. The heartbeat's last_used_at write meets neither condition, but the trigger runs
  -- on every such write in Coder, so it runs here too. Same names as in Coder (the trigger's name
  -- is cut at PostgreSQL's 63-character limit there).
  CREATE FUNCTION public.nullify_next_start_at_on_workspace_autostart_modification()
  RETURNS trigger
  LANGUAGE plpgsql
  AS $fn$
  BEGIN
    IF (NEW.autostart_schedule <> OLD.autostart_schedule AND NEW.next_start_at = OLD.next_start_at)
       OR (NEW.dormant_at IS NOT NULL AND NEW.next_start_at IS NOT NULL) THEN
      UPDATE public.workspaces SET next_start_at = NULL WHERE id = NEW.id;
    END IF;
    RETURN NEW;
  END;
  $fn$;

  CREATE TRIGGER trigger_nullify_next_start_at_on_workspace_autostart_modificati
  AFTER UPDATE ON public.workspaces
  FOR EACH ROW EXECUTE FUNCTION public.nullify_next_start_at_on_workspace_autostart_modification();
END
$$;
