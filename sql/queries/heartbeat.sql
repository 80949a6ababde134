-- One chat heartbeat (SPEC §2): resolve the chat, mark the workspace used, bump the deadline of the
-- latest build, count the outcome. ONE statement, so it is one Data API ExecuteStatement (autocommit,
-- READ COMMITTED) on every path, and the count commits or rolls back with the writes it describes.
-- Modelled on ActivityBumpWorkspace of Coder (coderd/database/queries/activitybump.sql).
--
-- Parameters (Data API named placeholders):
--   chatId        uuid    the chat in the request path
--   userId        uuid    the token subject; must own the chat and the workspace
--   bucketSeconds bigint  width of an outcome-count bucket, i.e. the report window (default 300)
--
-- Result: no row when the chat does not exist or belongs to someone else (HTTP 404; nothing is
-- written, nothing counted). Otherwise exactly one row: outcome, workspace_id, deadline,
-- max_deadline, last_used_at, the times as ISO-8601 UTC text (null when unset / the zero time), as
-- they stand after the writes of this statement.
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
-- Time: every comparison is between timestamptz values, and every interval added to a timestamptz
-- is a pure microsecond count (no day part), so the session TimeZone never changes a result
-- (`timestamptz + 1 day` would follow DST in the session zone; `timestamptz - timestamptz` can
-- produce day parts, so we go through epoch seconds instead). Text is produced only at the end,
-- with AT TIME ZONE UTC.
WITH
chat AS MATERIALIZED (
  SELECT c.id, c.workspace_id, c.archived, c.status IN ('running', 'pending') AS active
  FROM public.chats c
  -- A chat of someone else is indistinguishable from a missing one: both yield no row.
  WHERE c.id = :chatId::uuid
    AND c.owner_id = :userId::uuid
),

-- The workspace this chat may keep alive, with the bump interval I (microseconds) it would get.
workspace AS MATERIALIZED (
  SELECT
    w.id,
    w.last_used_at,
    w.dormant_at,
    t.activity_bump,
    CASE
      WHEN NOT autostart.applies THEN t.activity_bump / 1000
      -- SPEC: a null/zero TTL makes I <= 0 (the Coder interval is NULL then): no bump.
      WHEN coalesce(autostart.ttl, 0) <= 0 THEN 0
      -- Bump as if the workspace had autostarted at next_start_at: I = (next_start_at - now) + TTL.
      ELSE round(extract(epoch FROM w.next_start_at - now()) * 1000000)::bigint
        + autostart.ttl / 1000
    END AS bump_us
  FROM chat
  JOIN public.workspaces w ON w.id = chat.workspace_id
  JOIN public.templates t ON t.id = w.template_id
  CROSS JOIN LATERAL (
    SELECT
      nullif(w.autostart_schedule, '') IS NOT NULL
        -- A NULL next_start_at would make this NULL, not false, and send I down the autostart branch.
        AND w.next_start_at IS NOT NULL
        AND w.next_start_at > now()
        AND now() + (t.activity_bump / 1000) * interval '1 microsecond' > w.next_start_at
        AS applies,
      CASE WHEN t.allow_user_autostop THEN w.ttl ELSE t.default_ttl END AS ttl
  ) autostart
  WHERE NOT w.deleted
    AND w.owner_id = :userId::uuid
    -- The prebuilds system user of Coder: a prebuilt workspace is never touched.
    AND w.owner_id <> 'c42fdf75-3097-471c-8c33-fb52454d81c0'::uuid
),

latest_build AS MATERIALIZED (
  SELECT wb.id, wb.transition, wb.deadline, wb.max_deadline, pj.completed_at
  FROM workspace w
  CROSS JOIN LATERAL (
    SELECT b.id, b.transition, b.deadline, b.max_deadline, b.job_id
    FROM public.workspace_builds b
    WHERE b.workspace_id = w.id
    ORDER BY b.build_number DESC
    LIMIT 1
  ) wb
  LEFT JOIN public.provisioner_jobs pj ON pj.id = wb.job_id
),

-- What the snapshot says should happen. due is not an outcome: whether a due bump really
-- happens is decided by the UPDATE below, against the row version it locks.
plan AS MATERIALIZED (
  SELECT
    w.id AS workspace_id,
    w.last_used_at,
    b.id AS build_id,
    b.deadline,
    b.max_deadline,
    bump.i AS bump_interval,
    bump.guard AS guard_interval,
    NOT chat.archived AND w.id IS NOT NULL AND chat.active AND w.dormant_at IS NULL AS may_mark_used,
    CASE
      WHEN chat.archived THEN 'chat_archived'
      WHEN w.id IS NULL THEN 'no_workspace'
      WHEN NOT chat.active THEN 'chat_idle'
      WHEN w.dormant_at IS NOT NULL THEN 'dormant'
      WHEN b.id IS NULL OR b.transition <> 'start' OR b.completed_at IS NULL THEN 'not_running'
      WHEN w.activity_bump <= 0 THEN 'bump_disabled'
      WHEN b.deadline = '0001-01-01 00:00:00+00'::timestamptz THEN 'no_autostop'
      WHEN w.bump_us <= 0 THEN 'bump_disabled'
      WHEN NOT (b.deadline - bump.guard < now()) THEN 'not_due'
      WHEN CASE
          WHEN b.max_deadline = '0001-01-01 00:00:00+00'::timestamptz
            THEN greatest(b.deadline, now() + bump.i)
          ELSE least(greatest(b.deadline, now() + bump.i), b.max_deadline)
        END <= b.deadline THEN 'at_max_deadline'
      ELSE 'due'
    END AS planned
  FROM chat
  LEFT JOIN workspace w ON true
  LEFT JOIN latest_build b ON true
  CROSS JOIN LATERAL (
    SELECT
      w.bump_us * interval '1 microsecond' AS i,
      -- The 5 % guard: write only once 5 % of the interval has elapsed. deadline - 0.95 I < now
      -- holds for whole microseconds exactly when deadline - now < ceil(0.95 I): round up, not down.
      ((w.bump_us * 95 + 99) / 100) * interval '1 microsecond' AS guard
  ) bump
),

-- Trap: a guard evaluated in a CTE is not re-checked after waiting on a row lock; READ COMMITTED
-- re-evaluates (EvalPlanQual) only the own WHERE of this UPDATE, against the new row version. So the
-- 5 % guard and "the new deadline is later" are written here, on the columns of wb: of 50 concurrent
-- heartbeats on one due build, the first writes and the others, re-checking against its deadline,
-- write nothing. Every change to the build row is in this one UPDATE (PostgreSQL applies only one
-- of two data-modifying CTEs that update the same row).
bumped_build AS (
  UPDATE public.workspace_builds wb
  SET
    deadline = CASE
      WHEN wb.max_deadline = '0001-01-01 00:00:00+00'::timestamptz
        THEN greatest(wb.deadline, now() + p.bump_interval)
      ELSE least(greatest(wb.deadline, now() + p.bump_interval), wb.max_deadline)
    END,
    updated_at = now()
  FROM plan p
  WHERE p.planned = 'due'
    AND wb.id = p.build_id
    AND wb.transition = 'start'
    AND wb.deadline <> '0001-01-01 00:00:00+00'::timestamptz
    AND wb.deadline - p.guard_interval < now()
    -- Never lower the deadline, never pass max_deadline, never write a no-op.
    AND CASE
        WHEN wb.max_deadline = '0001-01-01 00:00:00+00'::timestamptz
          THEN greatest(wb.deadline, now() + p.bump_interval)
        ELSE least(greatest(wb.deadline, now() + p.bump_interval), wb.max_deadline)
      END > wb.deadline
  RETURNING wb.deadline, wb.max_deadline
),

-- Mark used and record the bump in ONE update of the workspace row (same trap as above: two
-- UPDATEs of one row in one statement would lose one). Reading bumped_build also orders the row
-- locks build -> workspace in every heartbeat, so concurrent heartbeats cannot deadlock.
-- The 60 s guard is on the columns of w for the same EvalPlanQual reason: at most one write per
-- workspace per minute, however many heartbeats race.
touched_workspace AS (
  UPDATE public.workspaces w
  SET
    -- greatest(): never move it backwards (the guard already implies it; this states it).
    last_used_at = CASE
      WHEN w.last_used_at < now() - interval '60 seconds' THEN greatest(w.last_used_at, now())
      ELSE w.last_used_at
    END,
    last_activity_source = CASE WHEN build.bumped THEN 'chat_heartbeat' ELSE w.last_activity_source END,
    last_activity_at = CASE WHEN build.bumped THEN now() ELSE w.last_activity_at END
  FROM plan p
  CROSS JOIN (SELECT count(*) > 0 AS bumped FROM bumped_build) build
  WHERE p.may_mark_used
    AND w.id = p.workspace_id
    AND NOT w.deleted
    AND w.dormant_at IS NULL
    AND (w.last_used_at < now() - interval '60 seconds' OR build.bumped)
  RETURNING w.last_used_at
),

-- The outcome comes from what the UPDATEs did, not from the plan: a heartbeat that planned a bump
-- but lost the race (its re-checked guard failed) is `not_due`, and is counted as such.
result AS MATERIALIZED (
  SELECT
    p.workspace_id,
    CASE
      WHEN p.planned <> 'due' THEN p.planned
      WHEN b.deadline IS NOT NULL THEN 'bumped'
      ELSE 'not_due'
    END AS outcome,
    coalesce(b.deadline, p.deadline) AS deadline,
    coalesce(b.max_deadline, p.max_deadline) AS max_deadline,
    coalesce(t.last_used_at, p.last_used_at) AS last_used_at
  FROM plan p
  LEFT JOIN bumped_build b ON true
  LEFT JOIN touched_workspace t ON true
),

-- Count exactly once per accepted heartbeat, in this statement so the count commits with the writes
-- (no row on the 404 path, so nothing is counted there). Shard by backend so concurrent heartbeats
-- rarely wait on one counter row. Buckets start at multiples of bucketSeconds since the Unix epoch.
counted AS (
  INSERT INTO chat_heartbeat.outcome_counts AS counts (bucket_start, outcome, shard, heartbeats)
  SELECT
    to_timestamp(floor(extract(epoch FROM now()) / :bucketSeconds::bigint) * :bucketSeconds::bigint),
    r.outcome,
    pg_backend_pid() % 16,
    1
  FROM result r
  ON CONFLICT (bucket_start, outcome, shard)
  DO UPDATE SET heartbeats = counts.heartbeats + 1
)

SELECT
  r.outcome,
  r.workspace_id,
  CASE WHEN r.deadline <> '0001-01-01 00:00:00+00'::timestamptz
    THEN to_char(r.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  END AS deadline,
  CASE WHEN r.max_deadline <> '0001-01-01 00:00:00+00'::timestamptz
    THEN to_char(r.max_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  END AS max_deadline,
  CASE WHEN r.last_used_at <> '0001-01-01 00:00:00+00'::timestamptz
    THEN to_char(r.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  END AS last_used_at
FROM result r
