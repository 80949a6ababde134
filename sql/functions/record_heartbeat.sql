-- THE heartbeat (docs/heartbeat.md): resolve the chat, mark the workspace used, bump the deadline of the
-- latest build, record the bump, count the outcome. The whole rule lives in this file.
--
-- Why a function. The Lambda sends one short, boring statement per heartbeat
-- (sql/queries/heartbeat.sql: `SELECT … FROM chat_heartbeat.record_heartbeat(…)`), one Data API
-- ExecuteStatement in autocommit, so every write below and the count commit together or not at
-- all. PL/pgSQL caches the plans of the statements below per connection, so a pooled Data API
-- connection plans them once instead of re-planning a long statement on every call.
--
-- Modelled on Coder's ActivityBumpWorkspace (coderd/database/queries/activitybump.sql): bump by the
-- template's activity_bump, or up to next autostart + TTL when that comes first; write only when
-- 5 % of the bump has elapsed; never lower the deadline; never pass max_deadline.
--
-- Installed by `npm run migrate` as a REPEATABLE migration: tools/migrate/runner.ts re-applies this
-- file whenever its checksum changes, after the numbered migrations (which create the tables it
-- uses). Edit the rule here, in place; git history is its history. CREATE OR REPLACE keeps the
-- function's identity, so a Lambda in flight never sees it missing. The argument list and the
-- result columns are a contract with deployed Lambda code: changing them means a new function
-- name (deploy: migrate first, then the code that calls the new name; drop the old one later).
--
-- Result: no row when the chat does not exist or belongs to someone else (HTTP 404; nothing is
-- written, nothing counted). Otherwise one row: outcome, workspace_id, and the deadline,
-- max_deadline and last_used_at as they stand after this call, as epoch milliseconds (NULL when
-- unset or the zero time), and next_heartbeat_seconds, the pacing hint (below). Numbers, not text: nothing depends on the session TimeZone or DateStyle
-- of the connection the Data API lends us, and no format string with `:` reaches its SQL scanner.
--
-- Outcome precedence, the first that applies wins:
--   chat_archived   the chat is archived
--   no_workspace    no workspace, or deleted, or owned by another user or by the prebuilds user
--   chat_idle       chat status is not running/pending (an idle tab must not keep a workspace alive)
--   dormant         workspace.dormant_at is set
--   (from here on the workspace is marked used: last_used_at, at most once a minute)
--   not_running     latest build is not a start, or its job has not completed (or there is no build)
--   bump_disabled   template activity_bump <= 0
--   no_autostop     the deadline of the latest build is the zero time
--   bump_disabled   the bump interval I <= 0 (autostart branch with a null/zero TTL)
--   not_due         deadline - 0.95 * I >= now (the 5 % guard), or a concurrent heartbeat bumped first
--   at_max_deadline due, but capping at max_deadline leaves the deadline where it is
--   bumped          the deadline was moved forward
--
-- Concurrency (READ COMMITTED). Each statement below reads the newest committed rows. After waiting
-- on a row lock, PostgreSQL re-checks only an UPDATE's own WHERE against the new row version
-- (EvalPlanQual); the values read earlier into variables are not re-checked. So the 5 % guard and
-- "the new deadline is later" are written in the UPDATE's WHERE on the columns of the locked build
-- row, and the 60 s guard on the columns of the locked workspace row: of 50 concurrent heartbeats on
-- one due build, one writes the build and one the workspace. Row locks are always taken in the
-- order build -> workspace -> last bump -> counter, so heartbeats cannot deadlock each other.
--
-- Pacing (docs/heartbeat.md). A chat beating every 30 s sends 120 requests an hour, yet with a 1 h bump only
-- one in six can move the deadline. next_heartbeat_seconds tells the client when its next beat can
-- matter, from the same reads and the same now() as the outcome:
--   bumped, not_due       the whole seconds until the 5 % guard opens again, deadline - 0.95 I - now
--                         (rounded up, exactly), clamped to [15, 300]
--   chat_idle, not_running 30 (the chat or the workspace may become active soon)
--   any other outcome     300
-- and never more than deadline - now - 60 s (floored at 15) while the deadline is set and ahead. A
-- client that beats at these times keeps at least 0.95 I - 15 s before its deadline (unless
-- max_deadline caps it): the guard opens, the next beat bumps, and 15 s is the longest a hint can
-- overshoot an opening guard. The 300 s ceiling bounds how late a client learns of a change.
--
-- Time zones. Only timestamptz values are compared. Every interval added to a timestamptz is a pure
-- microsecond count (`n * interval '1 microsecond'`): an interval with a day part would follow DST
-- in the session zone. Differences of times go through epoch seconds for the same reason.
CREATE OR REPLACE FUNCTION chat_heartbeat.record_heartbeat(
  p_chat_id uuid,
  p_user_id uuid,
  -- Width of an outcome-count bucket, i.e. the report window (REPORT_WINDOW_SECONDS).
  p_bucket_seconds bigint
)
RETURNS TABLE (
  outcome text,
  workspace_id uuid,
  deadline_ms bigint,
  max_deadline_ms bigint,
  last_used_at_ms bigint,
  next_heartbeat_seconds integer
)
LANGUAGE plpgsql
VOLATILE
-- Runs with the caller's privileges: the Data API logs in as chat_heartbeat_heartbeat, whose grants
-- (sql/grants/function_roles.sql: SELECT on the columns read here, UPDATE on the three written) are
-- what protects Coder's tables, not this function's owner. Coder's trigger on workspaces runs as
-- that role too (it is not SECURITY DEFINER either).
SECURITY INVOKER
-- No SET clause: every name below is schema-qualified, and the trigger Coder fires on our
-- workspaces write (it names `workspaces` unqualified, coderd/database/dump.sql) resolves through
-- the search_path the heartbeat's role logs in with, `pg_catalog, public, pg_temp`
-- (sql/grants/function_roles.sql). A SET clause would switch and restore the path on every call
-- (~5 % of a bumped call's CPU when it differs from the session's, bench/write-path.ts) and guard
-- nothing for an invoker's function: the caller's own session is the only one it runs in.
AS $$
-- The result columns are variables too; in a query a bare name means the table's column.
#variable_conflict use_column
DECLARE
  -- Coder's "not set" timestamp. Typed literals, so the cast happens once when PL/pgSQL plans the
  -- expression, not on every call.
  zero CONSTANT timestamptz := timestamptz '0001-01-01 00:00:00+00';
  -- Coder's prebuilds system user: a prebuilt workspace is never touched.
  prebuilds_user CONSTANT uuid := uuid 'c42fdf75-3097-471c-8c33-fb52454d81c0';
  -- The transaction's time: one `now` for every statement below, as in one SQL statement.
  t_now CONSTANT timestamptz := now();

  chat_workspace uuid;
  chat_archived boolean;
  chat_active boolean;

  ws_id uuid;
  ws_last_used timestamptz;
  ws_dormant timestamptz;
  ws_autostart text;
  ws_next_start timestamptz;
  ws_ttl bigint;
  tpl_activity_bump bigint;

  build_id uuid;
  build_transition text;
  build_deadline timestamptz;
  build_max_deadline timestamptz;
  job_completed timestamptz;

  bump_us bigint;
  guard_us bigint;
  target timestamptz;
  written_deadline timestamptz;
  written_max_deadline timestamptz;
  written_last_used timestamptz;
  result text;
BEGIN
  -- 1. Resolve, in one read: the chat; the workspace it may keep alive, with its template; the
  -- workspace's latest build (the unique (workspace_id, build_number) index serves it) with the
  -- build's job. Read whatever the chat's state: the response shows the deadline even when this
  -- heartbeat may not move it. A chat of someone else is indistinguishable from a missing one.
  SELECT c.workspace_id, c.archived, c.status IN ('running', 'pending'),
         w.id, w.last_used_at, w.dormant_at, w.autostart_schedule, w.next_start_at,
         CASE WHEN t.allow_user_autostop THEN w.ttl ELSE t.default_ttl END,
         t.activity_bump,
         b.id, b.transition::text, b.deadline, b.max_deadline, j.completed_at
    INTO chat_workspace, chat_archived, chat_active,
         ws_id, ws_last_used, ws_dormant, ws_autostart, ws_next_start, ws_ttl,
         tpl_activity_bump,
         build_id, build_transition, build_deadline, build_max_deadline, job_completed
  FROM public.chats c
  LEFT JOIN (public.workspaces w JOIN public.templates t ON t.id = w.template_id)
    ON w.id = c.workspace_id
    AND NOT w.deleted
    AND w.owner_id = p_user_id
    AND w.owner_id <> prebuilds_user
  LEFT JOIN LATERAL (
    SELECT lb.id, lb.transition, lb.deadline, lb.max_deadline, lb.job_id
    FROM public.workspace_builds lb
    WHERE lb.workspace_id = w.id
    ORDER BY lb.build_number DESC
    LIMIT 1
  ) b ON true
  LEFT JOIN public.provisioner_jobs j ON j.id = b.job_id
  WHERE c.id = p_chat_id
    AND c.owner_id = p_user_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;

  IF chat_archived THEN
    result := 'chat_archived';
  ELSIF ws_id IS NULL THEN
    result := 'no_workspace';
  ELSIF NOT chat_active THEN
    result := 'chat_idle';
  ELSIF ws_dormant IS NOT NULL THEN
    result := 'dormant';
  ELSE
    -- The bump interval I, in microseconds (durations are stored as nanoseconds). When the
    -- workspace autostarts before now + activity_bump would pass, bump as if it had autostarted:
    -- I = (next_start_at - now) + TTL; a null/zero TTL makes I <= 0 (Coder's interval is NULL then).
    IF nullif(ws_autostart, '') IS NOT NULL
       AND ws_next_start > t_now
       AND t_now + (tpl_activity_bump / 1000) * interval '1 microsecond' > ws_next_start THEN
      bump_us := CASE
        WHEN coalesce(ws_ttl, 0) <= 0 THEN 0
        ELSE round((extract(epoch FROM ws_next_start) - extract(epoch FROM t_now)) * 1000000)::bigint
          + ws_ttl / 1000
      END;
    ELSE
      bump_us := tpl_activity_bump / 1000;
    END IF;
    -- The 5 % guard: write only once 5 % of I has elapsed. deadline - 0.95 I < now holds for whole
    -- microseconds exactly when deadline - now < ceil(0.95 I): round up, not down.
    guard_us := (bump_us * 95 + 99) / 100;
    target := greatest(build_deadline, t_now + bump_us * interval '1 microsecond');
    IF build_max_deadline <> zero THEN
      target := least(target, build_max_deadline);
    END IF;

    IF build_id IS NULL OR build_transition <> 'start' OR job_completed IS NULL THEN
      result := 'not_running';
    ELSIF tpl_activity_bump <= 0 THEN
      result := 'bump_disabled';
    ELSIF build_deadline = zero THEN
      result := 'no_autostop';
    ELSIF bump_us <= 0 THEN
      result := 'bump_disabled';
    ELSIF NOT (build_deadline - guard_us * interval '1 microsecond' < t_now) THEN
      result := 'not_due';
    ELSIF target <= build_deadline THEN
      result := 'at_max_deadline';
    ELSE
      -- 3. Bump. The guards are re-stated on the columns of the locked row (see Concurrency): a
      -- heartbeat that waited for a concurrent bump re-checks against its deadline and writes
      -- nothing. Never lower the deadline, never pass max_deadline, never write a no-op.
      UPDATE public.workspace_builds b
      SET deadline = CASE
            WHEN b.max_deadline = zero THEN greatest(b.deadline, t_now + bump_us * interval '1 microsecond')
            ELSE least(greatest(b.deadline, t_now + bump_us * interval '1 microsecond'), b.max_deadline)
          END,
          updated_at = t_now
      WHERE b.id = build_id
        AND b.transition = 'start'
        AND b.deadline <> zero
        AND b.deadline - guard_us * interval '1 microsecond' < t_now
        AND CASE
            WHEN b.max_deadline = zero THEN greatest(b.deadline, t_now + bump_us * interval '1 microsecond')
            ELSE least(greatest(b.deadline, t_now + bump_us * interval '1 microsecond'), b.max_deadline)
          END > b.deadline
      RETURNING b.deadline, b.max_deadline INTO written_deadline, written_max_deadline;
      -- Lost the race: a concurrent heartbeat bumped first. Reported and counted as not_due, with
      -- the deadline this call read (the winner's is not visible to it).
      result := CASE WHEN FOUND THEN 'bumped' ELSE 'not_due' END;
    END IF;

    -- 2. Mark used (dormancy), at most one write per workspace per minute. The guard is on the
    -- locked row's column for the EvalPlanQual reason above; it also means never backwards. Not
    -- even tried when the value read is recent: a concurrent writer only makes it more recent.
    IF ws_last_used < t_now - interval '60 seconds' THEN
      UPDATE public.workspaces w
      SET last_used_at = t_now
      WHERE w.id = ws_id
        AND NOT w.deleted
        AND w.dormant_at IS NULL
        AND w.last_used_at < t_now - interval '60 seconds'
      RETURNING w.last_used_at INTO written_last_used;
    END IF;

    -- The last bump per workspace, in our own schema (Coder has no column for it): answers "why is
    -- my workspace still on?" (coder/coder#17320). Written only when the deadline moved.
    IF result = 'bumped' THEN
      INSERT INTO chat_heartbeat.workspace_last_bump AS l
        (workspace_id, bumped_at, source, chat_id, deadline)
      VALUES (ws_id, t_now, 'chat_heartbeat', p_chat_id, written_deadline)
      ON CONFLICT (workspace_id) DO UPDATE
      SET bumped_at = excluded.bumped_at,
          source = excluded.source,
          chat_id = excluded.chat_id,
          deadline = excluded.deadline;
    END IF;
  END IF;

  -- 4. Count exactly once per accepted heartbeat, in this transaction so the count commits with the
  -- writes it describes. Shard by backend so concurrent heartbeats rarely wait on one counter row.
  -- Buckets start at multiples of the bucket width since the Unix epoch (date_bin counts in whole
  -- microseconds from its origin: no time zone, no DST).
  INSERT INTO chat_heartbeat.outcome_counts AS counts (bucket_start, outcome, shard, heartbeats)
  VALUES (
    date_bin(p_bucket_seconds * interval '1 second', t_now, timestamptz '1970-01-01 00:00:00+00'),
    result::chat_heartbeat.heartbeat_outcome,
    pg_backend_pid() % 16,
    1
  )
  ON CONFLICT (bucket_start, outcome, shard)
  DO UPDATE SET heartbeats = counts.heartbeats + 1;

  outcome := result;
  workspace_id := ws_id;
  build_deadline := coalesce(written_deadline, build_deadline);
  build_max_deadline := coalesce(written_max_deadline, build_max_deadline);
  ws_last_used := coalesce(written_last_used, ws_last_used);
  deadline_ms := CASE WHEN build_deadline <> zero
    THEN floor(extract(epoch FROM build_deadline) * 1000)::bigint END;
  max_deadline_ms := CASE WHEN build_max_deadline <> zero
    THEN floor(extract(epoch FROM build_max_deadline) * 1000)::bigint END;
  last_used_at_ms := CASE WHEN ws_last_used <> zero
    THEN floor(extract(epoch FROM ws_last_used) * 1000)::bigint END;

  -- The pacing hint (see Pacing). Exact arithmetic in numeric seconds: epoch differences are exact
  -- to the microsecond, and 0.95 I = 95 I / 10^8 s for I in microseconds.
  next_heartbeat_seconds := CASE
    WHEN result IN ('bumped', 'not_due') THEN least(300, greatest(15, ceil(
      extract(epoch FROM build_deadline) - extract(epoch FROM t_now)
      - (bump_us * 95)::numeric / 100000000)))
    WHEN result IN ('chat_idle', 'not_running') THEN 30
    ELSE 300
  END;
  IF build_deadline IS NOT NULL AND build_deadline <> zero AND build_deadline > t_now THEN
    next_heartbeat_seconds := least(next_heartbeat_seconds, greatest(15, floor(
      extract(epoch FROM build_deadline) - extract(epoch FROM t_now) - 60)));
  END IF;
  RETURN NEXT;
END
$$;

COMMENT ON FUNCTION chat_heartbeat.record_heartbeat(uuid, uuid, bigint) IS
  'One chat heartbeat (docs/heartbeat.md). Installed from sql/functions/record_heartbeat.sql.';
