import { randomUUID } from "node:crypto";
import type pg from "pg";

/**
 * Typed builders for the Coder-subset rows (docs/heartbeat.md) a heartbeat reads, inserted through a direct
 * pool. Times are given relative to the database's own clock (`fromNow`), never Node's, so tests do
 * not depend on clock skew between the two.
 */

/** Coder's "not set" timestamp. */
export const ZERO_TIME = "0001-01-01 00:00:00+00";
/** Coder's prebuilds system user: workspaces it owns are never touched. */
export const PREBUILDS_USER_ID = "c42fdf75-3097-471c-8c33-fb52454d81c0";

/** Durations in the schema are nanoseconds (Go's time.Duration). */
export const NS_PER_SECOND = 1_000_000_000;
export const seconds = (n: number): number => n * NS_PER_SECOND;
export const minutes = (n: number): number => seconds(n * 60);
export const hours = (n: number): number => minutes(n * 60);

/** A timestamptz column value: the zero time, NULL, an offset from the database's now(), or a fixed instant. */
export type TimeValue = "zero" | null | { fromNowSeconds: number } | Date;
export const fromNow = (secondsFromNow: number): TimeValue => ({ fromNowSeconds: secondsFromNow });
export const ago = (secondsAgo: number): TimeValue => ({ fromNowSeconds: -secondsAgo });

export type WorkspaceTransition = "start" | "stop" | "delete";
export type ChatStatus =
  | "waiting"
  | "pending"
  | "running"
  | "paused"
  | "completed"
  | "error"
  | "requires_action";

export interface TemplateFields {
  id: string;
  organizationId: string;
  name: string;
  deleted: boolean;
  defaultTtl: number;
  allowUserAutostop: boolean;
  activityBump: number;
}

export interface WorkspaceFields {
  id: string;
  ownerId: string;
  organizationId: string;
  templateId: string;
  name: string;
  deleted: boolean;
  autostartSchedule: string | null;
  ttl: number | null;
  lastUsedAt: TimeValue;
  dormantAt: TimeValue;
  nextStartAt: TimeValue;
}

export interface BuildFields {
  id: string;
  workspaceId: string;
  buildNumber: number;
  transition: WorkspaceTransition;
  deadline: TimeValue;
  maxDeadline: TimeValue;
  /** The build's provisioner job; null = still running. */
  jobCompletedAt: TimeValue;
  organizationId: string;
}

export interface ChatFields {
  id: string;
  ownerId: string;
  organizationId: string;
  workspaceId: string | null;
  status: ChatStatus;
  archived: boolean;
}

type Queryable = Pick<pg.Pool, "query">;

/** Builds a parameterised SQL expression for a time, appending its parameter (if any) to `values`. */
function timeSql(time: TimeValue, values: unknown[]): string {
  if (time === null) return "NULL";
  if (time === "zero") return `'${ZERO_TIME}'::timestamptz`;
  if (time instanceof Date) {
    values.push(time.toISOString());
    return `$${values.length}::timestamptz`;
  }
  values.push(time.fromNowSeconds);
  // Microsecond arithmetic only: a day-valued interval would follow DST in the session zone.
  return `now() + ($${values.length}::double precision * interval '1 second')`;
}

function param(values: unknown[], value: unknown, cast: string): string {
  values.push(value);
  return `$${values.length}::${cast}`;
}

export async function insertTemplate(
  db: Queryable,
  fields: Partial<TemplateFields> = {},
): Promise<TemplateFields> {
  const row: TemplateFields = {
    id: randomUUID(),
    organizationId: randomUUID(),
    name: `template-${randomUUID().slice(0, 8)}`,
    deleted: false,
    defaultTtl: hours(8),
    allowUserAutostop: true,
    activityBump: hours(1),
    ...fields,
  };
  await db.query(
    `INSERT INTO public.templates
       (id, created_at, updated_at, organization_id, name, deleted, default_ttl, allow_user_autostop, activity_bump)
     VALUES ($1, now(), now(), $2, $3, $4, $5, $6, $7)`,
    [
      row.id,
      row.organizationId,
      row.name,
      row.deleted,
      row.defaultTtl,
      row.allowUserAutostop,
      row.activityBump,
    ],
  );
  return row;
}

export async function insertWorkspace(
  db: Queryable,
  fields: Partial<WorkspaceFields> & Pick<WorkspaceFields, "templateId" | "ownerId">,
): Promise<WorkspaceFields> {
  const row: WorkspaceFields = {
    id: randomUUID(),
    organizationId: randomUUID(),
    name: `ws-${randomUUID().slice(0, 8)}`,
    deleted: false,
    autostartSchedule: null,
    ttl: hours(8),
    lastUsedAt: "zero",
    dormantAt: null,
    nextStartAt: null,
    ...fields,
  };
  const values: unknown[] = [];
  await db.query(
    `INSERT INTO public.workspaces
       (id, created_at, updated_at, owner_id, organization_id, template_id, deleted, name,
        autostart_schedule, ttl, last_used_at, dormant_at, next_start_at)
     VALUES (${param(values, row.id, "uuid")}, now(), now(), ${param(values, row.ownerId, "uuid")},
       ${param(values, row.organizationId, "uuid")}, ${param(values, row.templateId, "uuid")},
       ${param(values, row.deleted, "boolean")}, ${param(values, row.name, "varchar")},
       ${param(values, row.autostartSchedule, "text")}, ${param(values, row.ttl, "bigint")},
       ${timeSql(row.lastUsedAt, values)}, ${timeSql(row.dormantAt, values)},
       ${timeSql(row.nextStartAt, values)})`,
    values,
  );
  return row;
}

/** Inserts a build and its provisioner job. */
export async function insertBuild(
  db: Queryable,
  fields: Partial<BuildFields> & Pick<BuildFields, "workspaceId">,
): Promise<BuildFields & { jobId: string }> {
  const row: BuildFields = {
    id: randomUUID(),
    buildNumber: 1,
    transition: "start",
    deadline: fromNow(30 * 60),
    maxDeadline: "zero",
    jobCompletedAt: ago(60),
    organizationId: randomUUID(),
    ...fields,
  };
  const jobId = randomUUID();
  const jobValues: unknown[] = [jobId, row.organizationId];
  await db.query(
    `INSERT INTO public.provisioner_jobs (id, created_at, updated_at, started_at, completed_at, organization_id)
     VALUES ($1, now(), now(), now(), ${timeSql(row.jobCompletedAt, jobValues)}, $2)`,
    jobValues,
  );
  const values: unknown[] = [];
  await db.query(
    `INSERT INTO public.workspace_builds
       (id, created_at, updated_at, workspace_id, build_number, transition, job_id, deadline, max_deadline)
     VALUES (${param(values, row.id, "uuid")}, now(), now(), ${param(values, row.workspaceId, "uuid")},
       ${param(values, row.buildNumber, "integer")},
       ${param(values, row.transition, "workspace_transition")}, ${param(values, jobId, "uuid")},
       ${timeSql(row.deadline, values)}, ${timeSql(row.maxDeadline, values)})`,
    values,
  );
  return { ...row, jobId };
}

export async function insertChat(
  db: Queryable,
  fields: Partial<ChatFields> & Pick<ChatFields, "ownerId">,
): Promise<ChatFields> {
  const row: ChatFields = {
    id: randomUUID(),
    organizationId: randomUUID(),
    workspaceId: null,
    status: "running",
    archived: false,
    ...fields,
  };
  await db.query(
    `INSERT INTO public.chats (id, owner_id, organization_id, workspace_id, status, archived)
     VALUES ($1, $2, $3, $4, $5::chat_status, $6)`,
    [row.id, row.ownerId, row.organizationId, row.workspaceId, row.status, row.archived],
  );
  return row;
}

export interface RunningWorkspaceOptions {
  /** The user owning the chat (and, unless `workspace.ownerId` says otherwise, the workspace). */
  ownerId?: string;
  template?: Partial<Omit<TemplateFields, "id">>;
  workspace?: Partial<Omit<WorkspaceFields, "id" | "templateId">>;
  /** The latest build (build number 1 unless given). */
  build?: Partial<Omit<BuildFields, "id" | "workspaceId">>;
  chat?: Partial<Omit<ChatFields, "id" | "workspaceId">>;
}

export interface SeededWorkspace {
  ownerId: string;
  templateId: string;
  workspaceId: string;
  buildId: string;
  jobId: string;
  chatId: string;
}

/**
 * A started workspace (completed start build, deadline 30 min ahead with a 1 h activity bump, so
 * the next heartbeat is due), owned by `ownerId`, and an active (`running`) chat attached to it.
 */
export async function seedRunningWorkspace(
  db: Queryable,
  options: RunningWorkspaceOptions = {},
): Promise<SeededWorkspace> {
  const ownerId = options.ownerId ?? randomUUID();
  const organizationId = randomUUID();
  const template = await insertTemplate(db, { organizationId, ...options.template });
  const workspace = await insertWorkspace(db, {
    ownerId,
    organizationId,
    ...options.workspace,
    templateId: template.id,
  });
  const build = await insertBuild(db, {
    organizationId,
    ...options.build,
    workspaceId: workspace.id,
  });
  const chat = await insertChat(db, {
    ownerId,
    organizationId,
    ...options.chat,
    workspaceId: workspace.id,
  });
  return {
    ownerId,
    templateId: template.id,
    workspaceId: workspace.id,
    buildId: build.id,
    jobId: build.jobId,
    chatId: chat.id,
  };
}

/** Epoch milliseconds of a timestamptz, truncated like `to_char(..., 'MS')`; null for NULL and the zero time. */
const msOf = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} = '${ZERO_TIME}'::timestamptz THEN NULL
        ELSE floor(extract(epoch FROM ${column}) * 1000)::float8 END`;

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** The database's now(), to millisecond precision. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ ms: number }>(
    "SELECT floor(extract(epoch FROM now()) * 1000)::float8 AS ms",
  );
  return new Date(rows[0]?.ms ?? Number.NaN);
}

export interface BuildState {
  deadline: Date | null;
  maxDeadline: Date | null;
  updatedAt: Date;
  /** Transaction id that wrote the current row version: changes on every write. */
  xmin: string;
}

export async function readBuild(db: Queryable, buildId: string): Promise<BuildState> {
  const { rows } = await db.query<{
    deadline: number | null;
    max_deadline: number | null;
    updated_at: number;
    xmin: string;
  }>(
    `SELECT ${msOf("deadline")} AS deadline, ${msOf("max_deadline")} AS max_deadline,
            ${msOf("updated_at")} AS updated_at, xmin::text AS xmin
     FROM public.workspace_builds WHERE id = $1`,
    [buildId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no build ${buildId}`);
  return {
    deadline: toDate(row.deadline),
    maxDeadline: toDate(row.max_deadline),
    updatedAt: new Date(row.updated_at),
    xmin: row.xmin,
  };
}

export interface WorkspaceState {
  lastUsedAt: Date | null;
  xmin: string;
}

export async function readWorkspace(db: Queryable, workspaceId: string): Promise<WorkspaceState> {
  const { rows } = await db.query<{
    last_used_at: number | null;
    xmin: string;
  }>(
    `SELECT ${msOf("last_used_at")} AS last_used_at, xmin::text AS xmin
     FROM public.workspaces WHERE id = $1`,
    [workspaceId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no workspace ${workspaceId}`);
  return {
    lastUsedAt: toDate(row.last_used_at),
    xmin: row.xmin,
  };
}

export interface LastBump {
  bumpedAt: Date;
  source: string;
  chatId: string;
  deadline: Date;
  /** Transaction id that wrote the current row version: changes on every write. */
  xmin: string;
}

/** The last bump of a workspace recorded in `chat_heartbeat.workspace_last_bump`; null if none. */
export async function readLastBump(db: Queryable, workspaceId: string): Promise<LastBump | null> {
  const { rows } = await db.query<{
    bumped_at: number;
    source: string;
    chat_id: string;
    deadline: number;
    xmin: string;
  }>(
    `SELECT ${msOf("bumped_at")} AS bumped_at, source, chat_id::text AS chat_id,
            ${msOf("deadline")} AS deadline, xmin::text AS xmin
     FROM chat_heartbeat.workspace_last_bump WHERE workspace_id = $1`,
    [workspaceId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    bumpedAt: new Date(row.bumped_at),
    source: row.source,
    chatId: row.chat_id,
    deadline: new Date(row.deadline),
    xmin: row.xmin,
  };
}

/** Outcome counts summed over shards (and buckets), as the reporter will read them. */
export async function readOutcomeCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ outcome: string; heartbeats: string }>(
    `SELECT outcome, sum(heartbeats)::text AS heartbeats
     FROM chat_heartbeat.outcome_counts GROUP BY outcome`,
  );
  return Object.fromEntries(rows.map((row) => [row.outcome, Number(row.heartbeats)]));
}
