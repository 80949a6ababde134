import { randomUUID } from "node:crypto";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { pgHeartbeatDriver } from "../support/heartbeat-driver.ts";
import {
  bumpInterval,
  type ChatStatus,
  formatInstant,
  type HeartbeatModelResult,
  type HeartbeatState,
  heartbeat,
  type Micros,
  type ModelBuild,
  type ModelTemplate,
  type ModelWorkspace,
  type Nanos,
  nanosToMicros,
  PREBUILDS_USER_ID,
  timestampLiteral,
  US_PER_SECOND,
  type WorkspaceTransition,
  ZERO_TIME,
} from "./heartbeat-model.ts";

/**
 * Property: for random states, sql/queries/heartbeat.sql on a real PostgreSQL and the model of
 * docs/heartbeat.md (heartbeat-model.ts) agree exactly on the outcome, the returned times, and which rows are
 * written with which values (to the microsecond).
 *
 * Exact time: the statement uses now(), which is the start time of its transaction. Each run opens
 * one transaction on one connection, reads now() there, inserts the state with instants computed
 * from that value in microseconds (exact timestamptz literals), runs the statement, reads the rows
 * back, and rolls back. The statement therefore sees precisely the `now` the model is given, and the
 * rollback resets the database for the next run (counters included). Inside an explicit transaction
 * the single statement behaves as under autocommit except for now(); concurrency is covered by the
 * concurrency tests, not here.
 *
 * States are generated relative to now (offsets, and "a few µs either side of an edge": the 5 %
 * guard, the 60 s mark-used guard, now + activity_bump vs next_start_at, the cap), so a failing case
 * shrinks to a minimal relative description that reproduces on any clock.
 *
 * FC_SEED=<n> replays a seed, FC_RUNS=<n> changes the number of runs (default 2000, about 10 s).
 */

const SECOND = US_PER_SECOND;
const MINUTE = 60n * SECOND;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
const NS_HOUR: Nanos = 3_600_000_000_000n;

const SEED = process.env.FC_SEED
  ? Number(process.env.FC_SEED)
  : Date.now() ^ (Math.random() * 2 ** 31);
const NUM_RUNS = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : 2000;

/** Zones with odd offsets, and a synthetic one whose DST starts within the hour (see dstSoonZone). */
const TIME_ZONES = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "dst-soon"];

// ---------------------------------------------------------------------------------------------
// Scenarios: a state described relative to now, resolved once now is known.

type Delta = bigint;
type Offset = { kind: "offset"; us: bigint };
type LastUsedSpec = { kind: "zero" } | { kind: "minuteEdge"; delta: Delta } | Offset;
type NextStartSpec =
  | null
  | { kind: "nowEdge"; delta: Delta }
  | { kind: "bumpEdge"; delta: Delta }
  | Offset;
type DeadlineSpec =
  | { kind: "zero" }
  | { kind: "guardEdge"; delta: Delta }
  // The guard opens in a whole number of seconds ± delta: where the pacing hint rounds up.
  | { kind: "hintEdge"; seconds: bigint; delta: Delta }
  // 60 s + a whole number of seconds ± delta ahead: where the hint's deadline cap floors.
  | { kind: "capEdge"; seconds: bigint; delta: Delta }
  | Offset;
type MaxDeadlineSpec =
  | { kind: "zero" }
  | { kind: "deadline" }
  | { kind: "targetEdge"; delta: Delta }
  | { kind: "aboveDeadline"; us: bigint };

interface BuildScenario {
  buildNumber: number;
  transition: WorkspaceTransition;
  jobCompleted: boolean;
  deadline: DeadlineSpec;
  maxDeadline: MaxDeadlineSpec;
}

interface Scenario {
  timeZone: string;
  bucketSeconds: number;
  subjectIsPrebuildsUser: boolean;
  chat:
    | "missing"
    | "of_another_user"
    | { archived: boolean; status: ChatStatus; linkedToWorkspace: boolean };
  template: ModelTemplate;
  workspace: {
    owner: "subject" | "another_user" | "prebuilds";
    deleted: boolean;
    dormantAt: Offset | null;
    lastUsedAt: LastUsedSpec;
    lastActivity: "none" | "earlier";
    autostartSchedule: string | null;
    nextStartAt: NextStartSpec;
    ttl: Nanos | null;
  };
  /** In insertion order; build numbers unique and shuffled. */
  builds: BuildScenario[];
}

/** `common` most of the time (each rare value ~1 in 16, so most runs reach the bump rules); shrinks towards `common`. */
function mostly<T>(common: T, ...rare: T[]): fc.Arbitrary<T> {
  return fc.oneof(
    { weight: 15, arbitrary: fc.constant(common) },
    ...rare.map((value) => ({ weight: 1, arbitrary: fc.constant(value) })),
  );
}

const delta = fc.integer({ min: -3, max: 3 }).map(BigInt);
const offset = (min: bigint, max: bigint): fc.Arbitrary<Offset> =>
  fc.bigInt(min, max).map((us) => ({ kind: "offset" as const, us }));
/** A positive duration in nanoseconds, a whole number of microseconds (what the SQL can add). */
const durationNs = (maxUs: bigint) => fc.bigInt(1n, maxUs).map((us) => us * 1000n);

const lastUsedSpec: fc.Arbitrary<LastUsedSpec> = fc.oneof(
  fc.constant({ kind: "zero" as const }),
  delta.map((d) => ({ kind: "minuteEdge" as const, delta: d })),
  offset(-2n * DAY, DAY),
);

const nextStartSpec: fc.Arbitrary<NextStartSpec> = fc.oneof(
  fc.constant(null),
  delta.map((d) => ({ kind: "nowEdge" as const, delta: d })),
  delta.map((d) => ({ kind: "bumpEdge" as const, delta: d })),
  offset(-DAY, 4n * DAY),
  offset(0n, 2n * HOUR),
);

const deadlineSpec: fc.Arbitrary<DeadlineSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: "zero" as const }) },
  { weight: 4, arbitrary: delta.map((d) => ({ kind: "guardEdge" as const, delta: d })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.bigInt(-2n, 320n), delta)
      .map(([seconds, d]) => ({ kind: "hintEdge" as const, seconds, delta: d })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.bigInt(-62n, 320n), delta)
      .map(([seconds, d]) => ({ kind: "capEdge" as const, seconds, delta: d })),
  },
  { weight: 3, arbitrary: offset(-HOUR, 3n * HOUR) },
);

const maxDeadlineSpec: fc.Arbitrary<MaxDeadlineSpec> = fc.oneof(
  fc.constant({ kind: "zero" as const }),
  fc.constant({ kind: "deadline" as const }),
  delta.map((d) => ({ kind: "targetEdge" as const, delta: d })),
  fc.bigInt(0n, 4n * HOUR).map((us) => ({ kind: "aboveDeadline" as const, us })),
);

const buildScenario: fc.Arbitrary<BuildScenario> = fc.record({
  buildNumber: fc.integer({ min: 1, max: 40 }),
  transition: mostly<WorkspaceTransition>("start", "stop", "delete"),
  jobCompleted: mostly(true, false),
  deadline: deadlineSpec,
  maxDeadline: maxDeadlineSpec,
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  timeZone: fc.constantFrom(...TIME_ZONES),
  bucketSeconds: fc.constantFrom(300, 60, 3600),
  subjectIsPrebuildsUser: mostly(false, true),
  chat: fc.oneof(
    {
      weight: 24,
      arbitrary: fc.record({
        archived: mostly(false, true),
        status: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom<ChatStatus>("running", "pending") },
          {
            weight: 1,
            arbitrary: fc.constantFrom<ChatStatus>(
              "waiting",
              "paused",
              "completed",
              "error",
              "requires_action",
            ),
          },
        ),
        linkedToWorkspace: mostly(true, false),
      }),
    },
    { weight: 1, arbitrary: fc.constant("missing" as const) },
    { weight: 1, arbitrary: fc.constant("of_another_user" as const) },
  ),
  template: fc.record({
    activityBump: fc.oneof(
      fc.constant(NS_HOUR),
      fc.constant(0n),
      fc.constant(60_000_000_000n),
      durationNs(2n * HOUR),
      // Longer than a day: a day part in an interval would follow DST in the session zone.
      durationNs(3n * DAY),
    ),
    allowUserAutostop: mostly(true, false),
    defaultTtl: fc.oneof(fc.constant(8n * NS_HOUR), fc.constant(0n), durationNs(7n * DAY)),
  }),
  workspace: fc.record({
    owner: mostly<"subject" | "another_user" | "prebuilds">("subject", "another_user", "prebuilds"),
    deleted: mostly(false, true),
    dormantAt: fc.oneof(
      { weight: 6, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: offset(-30n * DAY, HOUR) },
    ),
    lastUsedAt: lastUsedSpec,
    lastActivity: fc.constantFrom("none" as const, "earlier" as const),
    autostartSchedule: fc.constantFrom(null, "CRON_TZ=Europe/Berlin 0 9 * * 1-5", ""),
    nextStartAt: nextStartSpec,
    ttl: fc.oneof(fc.constant(8n * NS_HOUR), fc.constant(null), fc.constant(0n), durationNs(DAY)),
  }),
  builds: fc.uniqueArray(buildScenario, {
    minLength: 0,
    maxLength: 4,
    selector: (build) => build.buildNumber,
  }),
});

// ---------------------------------------------------------------------------------------------
// Resolution against the transaction's now().

interface Ids {
  subject: string;
  anotherUser: string;
  chat: string;
  template: string;
  workspace: string;
  bystanderWorkspace: string;
  bystanderBuild: string;
  bystanderChat: string;
}

interface ResolvedBuild extends ModelBuild {
  jobId: string;
}

interface Resolved {
  ids: Ids;
  state: HeartbeatState;
  workspace: ModelWorkspace;
  builds: ResolvedBuild[];
  /** An earlier bump of this workspace by another chat, already recorded; null = none. */
  earlierBump: { chatId: string; at: Micros; deadline: Micros } | null;
}

function resolve(s: Scenario, now: Micros): Resolved {
  const ids: Ids = {
    subject: s.subjectIsPrebuildsUser ? PREBUILDS_USER_ID : randomUUID(),
    anotherUser: randomUUID(),
    chat: randomUUID(),
    template: randomUUID(),
    workspace: randomUUID(),
    bystanderWorkspace: randomUUID(),
    bystanderBuild: randomUUID(),
    bystanderChat: randomUUID(),
  };
  const activityBump = nanosToMicros(s.template.activityBump);
  const w = s.workspace;
  const lastUsedAt =
    w.lastUsedAt.kind === "zero"
      ? ZERO_TIME
      : w.lastUsedAt.kind === "minuteEdge"
        ? now - MINUTE + w.lastUsedAt.delta
        : now + w.lastUsedAt.us;
  const nextStartAt =
    w.nextStartAt === null
      ? null
      : w.nextStartAt.kind === "nowEdge"
        ? now + w.nextStartAt.delta
        : w.nextStartAt.kind === "bumpEdge"
          ? now + activityBump + w.nextStartAt.delta
          : now + w.nextStartAt.us;
  const workspace: ModelWorkspace = {
    id: ids.workspace,
    ownerId:
      w.owner === "subject"
        ? ids.subject
        : w.owner === "prebuilds"
          ? PREBUILDS_USER_ID
          : ids.anotherUser,
    deleted: w.deleted,
    dormantAt: w.dormantAt === null ? null : now + w.dormantAt.us,
    lastUsedAt,
    autostartSchedule: w.autostartSchedule,
    nextStartAt,
    ttl: w.ttl,
    template: s.template,
  };
  // Edges are placed around the interval this workspace would get (or activity_bump if none).
  const resolvedInterval = bumpInterval(workspace, now).interval;
  const interval =
    resolvedInterval > 0n ? resolvedInterval : activityBump > 0n ? activityBump : HOUR;
  const builds = s.builds.map((b): ResolvedBuild => {
    const deadline =
      b.deadline.kind === "zero"
        ? ZERO_TIME
        : b.deadline.kind === "guardEdge"
          ? now + (95n * interval) / 100n + b.deadline.delta
          : b.deadline.kind === "hintEdge"
            ? now + (95n * interval) / 100n + b.deadline.seconds * SECOND + b.deadline.delta
            : b.deadline.kind === "capEdge"
              ? now + (60n + b.deadline.seconds) * SECOND + b.deadline.delta
              : now + b.deadline.us;
    let maxDeadline: Micros;
    if (deadline === ZERO_TIME || b.maxDeadline.kind === "zero") maxDeadline = ZERO_TIME;
    else if (b.maxDeadline.kind === "deadline") maxDeadline = deadline;
    else if (b.maxDeadline.kind === "aboveDeadline") maxDeadline = deadline + b.maxDeadline.us;
    else {
      // The table's check: max_deadline is zero or >= deadline.
      const target = now + interval + b.maxDeadline.delta;
      maxDeadline = target > deadline ? target : deadline;
    }
    return {
      id: randomUUID(),
      jobId: randomUUID(),
      buildNumber: b.buildNumber,
      transition: b.transition,
      jobCompleted: b.jobCompleted,
      deadline,
      maxDeadline,
    };
  });
  const state: HeartbeatState = {
    chat:
      s.chat === "missing"
        ? null
        : s.chat === "of_another_user"
          ? { ownerId: ids.anotherUser, archived: false, status: "running" }
          : { ownerId: ids.subject, archived: s.chat.archived, status: s.chat.status },
    workspace: typeof s.chat === "object" && !s.chat.linkedToWorkspace ? null : workspace,
    builds,
  };
  return {
    ids,
    state,
    workspace,
    builds,
    earlierBump:
      w.lastActivity === "earlier" ? { chatId: randomUUID(), at: now - DAY, deadline: now } : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Arranging and reading rows.

/**
 * A POSIX zone, standard time UTC+0, whose DST (+1 h) starts at the next full UTC hour: intervals
 * with a day part, or day-justified differences, would be an hour off across it.
 */
function dstSoonZone(now: Micros): string {
  const date = new Date(Number(now / 1000n));
  const startOfYear = Date.UTC(date.getUTCFullYear(), 0, 1);
  const day = Math.floor((date.getTime() - startOfYear) / 86_400_000);
  return `XST0XDT,${day}/${date.getUTCHours() + 1},${(day + 5) % 365}/0`;
}

function arrangeSql(client: pg.Client, s: Scenario, r: Resolved, now: Micros): string {
  const lit = (value: string | number | boolean | bigint | null): string =>
    value === null ? "NULL" : client.escapeLiteral(String(value));
  const at = (time: Micros | null) =>
    time === null ? "NULL" : `${lit(timestampLiteral(time))}::timestamptz`;
  const past = at(now - 2n * DAY);
  const org = lit(randomUUID());
  const { ids, workspace: w } = r;
  const chatOwner = s.chat === "of_another_user" ? ids.anotherUser : ids.subject;
  const chatWorkspace =
    typeof s.chat === "object" && !s.chat.linkedToWorkspace ? null : ids.workspace;
  const chat = typeof s.chat === "object" ? s.chat : { archived: false, status: "running" };
  const bystanderJob = randomUUID();
  const statements = [
    `INSERT INTO public.templates (id, created_at, updated_at, organization_id, name, default_ttl,
       allow_user_autostop, activity_bump)
     VALUES (${lit(ids.template)}, ${past}, ${past}, ${org}, 'property', ${lit(s.template.defaultTtl)},
       ${lit(s.template.allowUserAutostop)}, ${lit(s.template.activityBump)})`,
    `INSERT INTO public.workspaces (id, created_at, updated_at, owner_id, organization_id, template_id,
       deleted, name, autostart_schedule, ttl, last_used_at, dormant_at, next_start_at)
     VALUES
       (${lit(ids.workspace)}, ${past}, ${past}, ${lit(w.ownerId)}, ${org}, ${lit(ids.template)},
        ${lit(w.deleted)}, 'subject', ${lit(w.autostartSchedule)}, ${lit(w.ttl)}, ${at(w.lastUsedAt)},
        ${at(w.dormantAt)}, ${at(w.nextStartAt)}),
       -- Another workspace of the same user, due for a bump: must not be touched.
       (${lit(ids.bystanderWorkspace)}, ${past}, ${past}, ${lit(ids.subject)}, ${org},
        ${lit(ids.template)}, false, 'bystander', NULL, ${lit(NS_HOUR)}, ${at(ZERO_TIME)}, NULL, NULL)`,
    ...(r.earlierBump === null
      ? []
      : [
          `INSERT INTO chat_heartbeat.workspace_last_bump (workspace_id, bumped_at, source, chat_id, deadline)
           VALUES (${lit(ids.workspace)}, ${at(r.earlierBump.at)}, 'chat_heartbeat',
             ${lit(r.earlierBump.chatId)}, ${at(r.earlierBump.deadline)})`,
        ]),
    `INSERT INTO public.provisioner_jobs (id, created_at, updated_at, started_at, completed_at, organization_id)
     VALUES ${[
       ...r.builds.map(
         (b) =>
           `(${lit(b.jobId)}, ${past}, ${past}, ${past}, ${b.jobCompleted ? past : "NULL"}, ${org})`,
       ),
       `(${lit(bystanderJob)}, ${past}, ${past}, ${past}, ${past}, ${org})`,
     ].join(", ")}`,
    `INSERT INTO public.workspace_builds (id, created_at, updated_at, workspace_id, build_number,
       transition, job_id, deadline, max_deadline)
     VALUES ${[
       ...r.builds.map(
         (b) =>
           `(${lit(b.id)}, ${past}, ${past}, ${lit(ids.workspace)}, ${b.buildNumber},
             ${lit(b.transition)}, ${lit(b.jobId)}, ${at(b.deadline)}, ${at(b.maxDeadline)})`,
       ),
       `(${lit(ids.bystanderBuild)}, ${past}, ${past}, ${lit(ids.bystanderWorkspace)}, 1, 'start',
         ${lit(bystanderJob)}, ${at(now + MINUTE)}, ${at(ZERO_TIME)})`,
     ].join(", ")}`,
    // "missing": the chat row does not exist (the bystander's chat does).
    ...(s.chat === "missing"
      ? []
      : [
          `INSERT INTO public.chats (id, owner_id, organization_id, workspace_id, status, archived,
             created_at, updated_at)
           VALUES (${lit(ids.chat)}, ${lit(chatOwner)}, ${org}, ${lit(chatWorkspace)},
             ${lit(chat.status)}, ${lit(chat.archived)}, ${past}, ${past})`,
        ]),
    `INSERT INTO public.chats (id, owner_id, organization_id, workspace_id, status, archived,
       created_at, updated_at)
     VALUES (${lit(ids.bystanderChat)}, ${lit(ids.subject)}, ${org}, ${lit(ids.bystanderWorkspace)},
       'running', false, ${past}, ${past})`,
  ];
  return statements.join(";\n");
}

const us = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;

/**
 * Every row of the five tables, keyed by table and id: `ctid` (a new one on every write, so it
 * tells which rows were written), the columns a heartbeat may write (in µs), and all other columns
 * as JSON (which must never change). Then the outcome counters. Run in UTC so JSON is comparable.
 */
const SNAPSHOT_SQL = `
SET LOCAL TimeZone = 'UTC';
SELECT 'build:' || id AS key, ctid::text AS ctid,
       (to_jsonb(t) - ARRAY['deadline', 'updated_at'])::text AS fixed,
       jsonb_build_object('deadline', ${us("deadline")}, 'updated_at', ${us("updated_at")})::text AS written
FROM public.workspace_builds t
UNION ALL
SELECT 'workspace:' || id, ctid::text,
       (to_jsonb(t) - ARRAY['last_used_at'])::text,
       jsonb_build_object('last_used_at', ${us("last_used_at")})::text
FROM public.workspaces t
UNION ALL
SELECT 'last_bump:' || workspace_id, ctid::text, '{}',
       jsonb_build_object('bumped_at', ${us("bumped_at")}, 'source', source, 'chat_id', chat_id,
         'deadline', ${us("deadline")})::text
FROM chat_heartbeat.workspace_last_bump t
UNION ALL SELECT 'chat:' || id, ctid::text, to_jsonb(t)::text, '{}' FROM public.chats t
UNION ALL SELECT 'template:' || id, ctid::text, to_jsonb(t)::text, '{}' FROM public.templates t
UNION ALL SELECT 'job:' || id, ctid::text, to_jsonb(t)::text, '{}' FROM public.provisioner_jobs t;
SELECT outcome, heartbeats::text, ${us("bucket_start")} AS bucket_start
FROM chat_heartbeat.outcome_counts ORDER BY outcome;
`;

interface RowSnapshot {
  ctid: string;
  fixed: string;
  written: Record<string, string | null>;
}

interface Snapshot {
  rows: Map<string, RowSnapshot>;
  counts: { outcome: string; heartbeats: string; bucket_start: string }[];
}

function parseSnapshot(results: pg.QueryResult[]): Snapshot {
  const [, rowsResult, countsResult] = results;
  if (!rowsResult || !countsResult) throw new Error("snapshot: missing results");
  const rows = new Map<string, RowSnapshot>();
  for (const row of rowsResult.rows as {
    key: string;
    ctid: string;
    fixed: string;
    written: string;
  }[]) {
    rows.set(row.key, { ctid: row.ctid, fixed: row.fixed, written: JSON.parse(row.written) });
  }
  return { rows, counts: countsResult.rows };
}

async function multi(client: pg.Client, sql: string): Promise<pg.QueryResult[]> {
  // A simple-protocol query with several statements resolves to one result per statement.
  return (await client.query(sql)) as unknown as pg.QueryResult[];
}

const usText = (time: Micros | null) => (time === null ? null : time.toString());

/**
 * The rows as the model says they must be after the heartbeat: `rewritten` per row, and the
 * written columns of the subject's latest build and workspace.
 */
function expectedRows(before: Snapshot, r: Resolved, model: HeartbeatModelResult | "not_found") {
  const writes =
    model === "not_found" ? { workspace: null, build: null, lastBump: null } : model.writes;
  const expected: Record<string, { rewritten: boolean; fixed: string; written: unknown }> = {};
  const lastBumpKey = `last_bump:${r.ids.workspace}`;
  if (writes.lastBump) {
    expected[lastBumpKey] = {
      rewritten: true,
      fixed: "{}",
      written: {
        bumped_at: usText(writes.lastBump.at),
        source: "chat_heartbeat",
        chat_id: r.ids.chat,
        deadline: usText(writes.lastBump.deadline),
      },
    };
  }
  for (const [key, row] of before.rows) {
    if (key === lastBumpKey && writes.lastBump) continue;
    let written: Record<string, string | null> = row.written;
    let rewritten = false;
    if (key === `build:${writes.build?.id}` && writes.build) {
      rewritten = true;
      written = {
        deadline: usText(writes.build.deadline),
        updated_at: usText(writes.build.updatedAt),
      };
    }
    if (key === `workspace:${r.ids.workspace}` && writes.workspace) {
      rewritten = true;
      written = { last_used_at: usText(writes.workspace.lastUsedAt) };
    }
    expected[key] = { rewritten, fixed: row.fixed, written };
  }
  return expected;
}

function actualRows(before: Snapshot, after: Snapshot) {
  const actual: Record<string, { rewritten: boolean; fixed: string; written: unknown }> = {};
  for (const [key, row] of after.rows) {
    actual[key] = {
      rewritten: before.rows.get(key)?.ctid !== row.ctid,
      fixed: row.fixed,
      written: row.written,
    };
  }
  return actual;
}

// ---------------------------------------------------------------------------------------------

describe("heartbeat.sql agrees with the model of docs/heartbeat.md", () => {
  let db: TestDatabase;
  let client: pg.Client;
  const outcomes = new Map<string, number>();

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function check(s: Scenario): Promise<void> {
    await client.query("BEGIN");
    try {
      const [, nowResult] = await multi(
        client,
        "SET LOCAL TimeZone = 'UTC'; SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS now",
      );
      const nowText = (nowResult?.rows[0] as { now?: string } | undefined)?.now;
      if (nowText === undefined) throw new Error("could not read now()");
      const now = BigInt(nowText);
      const r = resolve(s, now);
      await multi(client, arrangeSql(client, s, r, now));
      const before = parseSnapshot(await multi(client, SNAPSHOT_SQL));

      const zone = s.timeZone === "dst-soon" ? dstSoonZone(now) : s.timeZone;
      await client.query(`SET LOCAL TimeZone = ${client.escapeLiteral(zone)}`);
      const driver = pgHeartbeatDriver(client, { bucketSeconds: s.bucketSeconds });
      const actual = await driver.beat(r.ids.chat, r.ids.subject);
      const after = parseSnapshot(await multi(client, SNAPSHOT_SQL));

      const model = heartbeat(r.state, { userId: r.ids.subject, now });
      outcomes.set(
        model === "not_found" ? "not_found" : model.outcome,
        (outcomes.get(model === "not_found" ? "not_found" : model.outcome) ?? 0) + 1,
      );
      const context = `now=${now} (${formatInstant(now)}) zone=${zone}`;

      expect(actual, context).toEqual(
        model === "not_found"
          ? "not_found"
          : {
              outcome: model.outcome,
              workspaceId: model.workspaceId,
              deadline: formatInstant(model.deadline),
              maxDeadline: formatInstant(model.maxDeadline),
              lastUsedAt: formatInstant(model.lastUsedAt),
              nextHeartbeatSeconds: model.nextHeartbeatSeconds,
            },
      );
      expect(actualRows(before, after), context).toEqual(expectedRows(before, r, model));
      const bucket = BigInt(s.bucketSeconds) * SECOND;
      expect(after.counts, context).toEqual(
        model === "not_found"
          ? []
          : [
              {
                outcome: model.outcome,
                heartbeats: "1",
                bucket_start: ((now / bucket) * bucket).toString(),
              },
            ],
      );
    } finally {
      await client.query("ROLLBACK");
    }
  }

  it("on random states (outcome, returned times, written rows and counts, to the µs)", async () => {
    console.info(`heartbeat property: seed ${SEED}, ${NUM_RUNS} runs (FC_SEED/FC_RUNS to change)`);
    await fc.assert(fc.asyncProperty(scenario, check), { seed: SEED, numRuns: NUM_RUNS });
    console.info(
      `heartbeat property: outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`,
    );
    // The generator must reach every outcome (and 404), or the property proves little.
    if (NUM_RUNS >= 1000) {
      expect([...outcomes.keys()].sort()).toEqual([...HEARTBEAT_OUTCOMES, "not_found"].sort());
    }
  }, 180_000);
});
