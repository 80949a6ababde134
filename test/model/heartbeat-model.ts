import type { HeartbeatOutcome } from "../../functions/shared/outcomes.ts";

/**
 * A reference model of one heartbeat (docs/heartbeat.md), written from docs/heartbeat.md and nothing else, in exact
 * integer arithmetic: instants are bigint MICROseconds since the Unix epoch (PostgreSQL timestamptz
 * precision), durations stored in the schema are bigint NANOseconds. The property test
 * (heartbeat-property.test.ts) runs random states through this model and through
 * sql/queries/heartbeat.sql and requires the same answer.
 */

export type Micros = bigint;
export type Nanos = bigint;

/** Coder's prebuilds system user: a workspace it owns is never touched. */
export const PREBUILDS_USER_ID = "c42fdf75-3097-471c-8c33-fb52454d81c0";
/** Coder's "not set" instant, '0001-01-01 00:00:00+00', in microseconds since the epoch. */
export const ZERO_TIME: Micros = -62_135_596_800_000_000n;

export const US_PER_MS = 1_000n;
export const US_PER_SECOND = 1_000_000n;
/** Durations are nanoseconds; instants are microseconds. */
export const NS_PER_US = 1_000n;

/** The SQL converts nanoseconds to microseconds by integer division (`activity_bump / 1000`). */
export const nanosToMicros = (nanos: Nanos): Micros => nanos / NS_PER_US;

/** How long `last_used_at` must be older than now before it is written again. */
export const MARK_USED_AFTER: Micros = 60n * US_PER_SECOND;

import type { ChatStatus, WorkspaceTransition } from "../support/fixtures.ts";

export type { ChatStatus, WorkspaceTransition };

export const ACTIVE_CHAT_STATUSES: readonly ChatStatus[] = ["running", "pending"];

export interface ModelTemplate {
  activityBump: Nanos;
  allowUserAutostop: boolean;
  defaultTtl: Nanos;
}

export interface ModelWorkspace {
  id: string;
  ownerId: string;
  deleted: boolean;
  dormantAt: Micros | null;
  /** ZERO_TIME = never used. */
  lastUsedAt: Micros;
  autostartSchedule: string | null;
  nextStartAt: Micros | null;
  ttl: Nanos | null;
  template: ModelTemplate;
}

export interface ModelBuild {
  id: string;
  buildNumber: number;
  transition: WorkspaceTransition;
  /** Whether the build's provisioner job has `completed_at` set. */
  jobCompleted: boolean;
  /** ZERO_TIME = no autostop. */
  deadline: Micros;
  /** ZERO_TIME = no cap. */
  maxDeadline: Micros;
}

export interface ModelChat {
  ownerId: string;
  archived: boolean;
  status: ChatStatus;
}

/** Everything one heartbeat can see, from the point of view of the requested chat. */
export interface HeartbeatState {
  /** The requested chat; null when there is no chat with that id. */
  chat: ModelChat | null;
  /** The chat's workspace row; null when `workspace_id` is null. */
  workspace: ModelWorkspace | null;
  /** Every build of that workspace, in any order. */
  builds: readonly ModelBuild[];
}

export interface HeartbeatRequest {
  /** The token subject. */
  userId: string;
  /** The database's now() as the statement sees it. */
  now: Micros;
}

export interface WorkspaceWrite {
  lastUsedAt: Micros;
}

/** On a bump only: `chat_heartbeat.workspace_last_bump` of the workspace := (now, the new deadline). */
export interface LastBumpWrite {
  at: Micros;
  deadline: Micros;
}

export interface BuildWrite {
  id: string;
  deadline: Micros;
  updatedAt: Micros;
}

export interface HeartbeatModelResult {
  outcome: HeartbeatOutcome;
  /** The workspace the chat may keep alive (null when there is none: `no_workspace`). */
  workspaceId: string | null;
  /** Latest build's deadline / max_deadline and the workspace's last_used_at, after the writes. */
  deadline: Micros | null;
  maxDeadline: Micros | null;
  lastUsedAt: Micros | null;
  /** The pacing hint of docs/heartbeat.md, whole seconds. */
  nextHeartbeatSeconds: number;
  /** Which rows get a new version, and with what. null = row not written. */
  writes: {
    workspace: WorkspaceWrite | null;
    build: BuildWrite | null;
    lastBump: LastBumpWrite | null;
  };
}

export interface BumpInterval {
  /** The bump interval I in microseconds; <= 0 means no bump. */
  interval: Micros;
  /** Whether I comes from the autostart branch ((next_start_at − now) + TTL). */
  autostart: boolean;
}

/**
 * The bump interval I of docs/heartbeat.md.3. `activity_bump`, unless the workspace has an autostart schedule,
 * its next start is in the future and now + activity_bump would pass it: then
 * I = (next_start_at − now) + TTL, TTL being the workspace ttl if the template allows user autostop,
 * else the template default_ttl; a null/zero TTL means no bump (I = 0).
 */
export function bumpInterval(workspace: ModelWorkspace, now: Micros): BumpInterval {
  const activityBump = nanosToMicros(workspace.template.activityBump);
  const hasSchedule = workspace.autostartSchedule !== null && workspace.autostartSchedule !== "";
  const nextStartAt = workspace.nextStartAt;
  if (
    !hasSchedule ||
    nextStartAt === null ||
    !(nextStartAt > now) ||
    !(now + activityBump > nextStartAt)
  ) {
    return { interval: activityBump, autostart: false };
  }
  const ttl = workspace.template.allowUserAutostop ? workspace.ttl : workspace.template.defaultTtl;
  if (ttl === null || ttl === 0n) return { interval: 0n, autostart: true };
  return { interval: nextStartAt - now + nanosToMicros(ttl), autostart: true };
}

/**
 * The 5 % guard, `deadline − 0.95·I < now`, exactly: as integers, 100·(deadline − now) < 95·I.
 * (Rounding 0.95·I to whole microseconds first would misjudge the boundary microsecond.)
 */
export function isDue(deadline: Micros, interval: Micros, now: Micros): boolean {
  return 100n * (deadline - now) < 95n * interval;
}

/** The latest build: highest build_number. */
export function latestBuild(builds: readonly ModelBuild[]): ModelBuild | null {
  let latest: ModelBuild | null = null;
  for (const build of builds) {
    if (latest === null || build.buildNumber > latest.buildNumber) latest = build;
  }
  return latest;
}

/** The workspace a chat of `userId` may keep alive, or null (docs/heartbeat.md.1, `no_workspace`). */
function resolveWorkspace(state: HeartbeatState, userId: string): ModelWorkspace | null {
  const workspace = state.workspace;
  if (workspace === null || workspace.deleted) return null;
  if (workspace.ownerId !== userId) return null;
  if (workspace.ownerId === PREBUILDS_USER_ID) return null;
  return workspace;
}

// Math.max/min do not take bigints.
const later = (a: Micros, b: Micros): Micros => (a > b ? a : b);
const earlier = (a: Micros, b: Micros): Micros => (a < b ? a : b);

const timeOrNull = (time: Micros): Micros | null => (time === ZERO_TIME ? null : time);

const clamp = (value: bigint, low: bigint, high: bigint): bigint =>
  value < low ? low : value > high ? high : value;

/**
 * docs/heartbeat.md's pacing hint. `deadline` is the latest build's deadline after the writes (null when there
 * is no build or it is the zero time); `interval` is I, for `bumped` and `not_due`.
 */
export function nextHeartbeatSeconds(
  outcome: HeartbeatOutcome,
  deadline: Micros | null,
  interval: Micros,
  now: Micros,
): number {
  let seconds: bigint;
  if ((outcome === "bumped" || outcome === "not_due") && deadline !== null) {
    // ceil(deadline − 0.95·I − now) in seconds, exactly: (100·(deadline − now) − 95·I) / 10^8 µs.
    const hundredths = 100n * (deadline - now) - 95n * interval;
    seconds = clamp(-floorDiv(-hundredths, 100n * US_PER_SECOND), 15n, 300n);
  } else if (outcome === "chat_idle" || outcome === "not_running") {
    seconds = 30n;
  } else {
    seconds = 300n;
  }
  if (deadline !== null && deadline > now) {
    const untilDeadline = floorDiv(deadline - now - 60n * US_PER_SECOND, US_PER_SECOND);
    seconds = earlier(seconds, later(15n, untilDeadline));
  }
  return Number(seconds);
}

/** One heartbeat: `not_found` (HTTP 404, nothing written or counted) or what it does. */
export function heartbeat(
  state: HeartbeatState,
  { userId, now }: HeartbeatRequest,
): HeartbeatModelResult | "not_found" {
  const chat = state.chat;
  if (chat === null || chat.ownerId !== userId) return "not_found";

  const workspace = resolveWorkspace(state, userId);
  const build = workspace === null ? null : latestBuild(state.builds);

  // I, once the rule gets that far (only `bumped` and `not_due` use it).
  let interval: Micros = 0n;
  const finish = (
    outcome: HeartbeatOutcome,
    writes: HeartbeatModelResult["writes"] = { workspace: null, build: null, lastBump: null },
  ): HeartbeatModelResult => {
    const deadline = build === null ? null : timeOrNull(writes.build?.deadline ?? build.deadline);
    return {
      outcome,
      workspaceId: workspace?.id ?? null,
      deadline,
      maxDeadline: build === null ? null : timeOrNull(build.maxDeadline),
      lastUsedAt:
        workspace === null
          ? null
          : timeOrNull(writes.workspace?.lastUsedAt ?? workspace.lastUsedAt),
      nextHeartbeatSeconds: nextHeartbeatSeconds(outcome, deadline, interval, now),
      writes,
    };
  };

  if (chat.archived) return finish("chat_archived");
  if (workspace === null) return finish("no_workspace");
  if (!ACTIVE_CHAT_STATUSES.includes(chat.status)) return finish("chat_idle");
  if (workspace.dormantAt !== null) return finish("dormant");

  // Mark used: only when more than 60 s old, never backwards.
  const markUsed = workspace.lastUsedAt < now - MARK_USED_AFTER;
  const lastUsedAt = markUsed ? now : workspace.lastUsedAt;
  const withoutBump = (outcome: HeartbeatOutcome) =>
    finish(outcome, {
      workspace: markUsed ? { lastUsedAt } : null,
      build: null,
      lastBump: null,
    });

  if (build === null || build.transition !== "start" || !build.jobCompleted) {
    return withoutBump("not_running");
  }
  if (workspace.template.activityBump <= 0n) return withoutBump("bump_disabled");
  if (build.deadline === ZERO_TIME) return withoutBump("no_autostop");
  interval = bumpInterval(workspace, now).interval;
  if (interval <= 0n) return withoutBump("bump_disabled");
  if (!isDue(build.deadline, interval, now)) return withoutBump("not_due");

  const extended = later(build.deadline, now + interval);
  const capped = build.maxDeadline === ZERO_TIME ? extended : earlier(extended, build.maxDeadline);
  if (capped === build.deadline) return withoutBump("at_max_deadline");
  if (capped < build.deadline) {
    // Unreachable while the table's check (deadline <= max_deadline) holds; never lower a deadline.
    throw new Error("model: the capped deadline would be below the current one");
  }
  return finish("bumped", {
    workspace: markUsed ? { lastUsedAt } : null,
    build: { id: build.id, deadline: capped, updatedAt: now },
    lastBump: { at: now, deadline: capped },
  });
}

const floorDiv = (a: bigint, b: bigint): bigint => {
  const quotient = a / b;
  return quotient * b > a ? quotient - 1n : quotient;
};

/** ISO-8601 UTC with milliseconds, truncated as `to_char(… AT TIME ZONE 'UTC', '…MS"Z"')` does. */
export function formatInstant(time: Micros | null): string | null {
  if (time === null) return null;
  return new Date(Number(floorDiv(time, US_PER_MS))).toISOString();
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+00`: an exact timestamptz literal for an instant. */
export function timestampLiteral(time: Micros): string {
  const seconds = floorDiv(time, US_PER_SECOND);
  const fraction = time - seconds * US_PER_SECOND;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19).replace("T", " ");
  return `${whole}.${fraction.toString().padStart(6, "0")}+00`;
}
