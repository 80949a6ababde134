import { describe, expect, it } from "vitest";
import {
  bumpInterval,
  formatInstant,
  type HeartbeatState,
  heartbeat,
  isDue,
  type ModelBuild,
  type ModelWorkspace,
  PREBUILDS_USER_ID,
  timestampLiteral,
  US_PER_SECOND,
  ZERO_TIME,
} from "./heartbeat-model.ts";

const USER = "6a1c7c59-2b51-4d0b-9a39-0c1e7d0c8f11";
const OTHER_USER = "0f6f8d8e-3f0a-4c55-9d36-3b8a1c1f2a22";
const NOW = 1_780_000_000_000_000n; // µs, an arbitrary instant in 2026
const S = US_PER_SECOND;
const HOUR_NS = 3_600_000_000_000n;

function workspace(fields: Partial<ModelWorkspace> = {}): ModelWorkspace {
  return {
    id: "ws",
    ownerId: USER,
    deleted: false,
    dormantAt: null,
    lastUsedAt: ZERO_TIME,
    autostartSchedule: null,
    nextStartAt: null,
    ttl: 8n * HOUR_NS,
    template: { activityBump: HOUR_NS, allowUserAutostop: true, defaultTtl: 8n * HOUR_NS },
    ...fields,
  };
}

function build(fields: Partial<ModelBuild> = {}): ModelBuild {
  return {
    id: "b1",
    buildNumber: 1,
    transition: "start",
    jobCompleted: true,
    deadline: NOW + 1800n * S,
    maxDeadline: ZERO_TIME,
    ...fields,
  };
}

function state(fields: Partial<HeartbeatState> = {}): HeartbeatState {
  return {
    chat: { ownerId: USER, archived: false, status: "running" },
    workspace: workspace(),
    builds: [build()],
    ...fields,
  };
}

const beat = (s: HeartbeatState, now = NOW) => heartbeat(s, { userId: USER, now });

function accepted(s: HeartbeatState, now = NOW) {
  const result = beat(s, now);
  if (result === "not_found") throw new Error("expected an accepted heartbeat");
  return result;
}

describe("heartbeat model", () => {
  it("bumps a due deadline to now + activity_bump, marks used and records the bump", () => {
    const result = accepted(state());
    expect(result.outcome).toBe("bumped");
    expect(result.deadline).toBe(NOW + 3600n * S);
    expect(result.lastUsedAt).toBe(NOW);
    expect(result.writes).toEqual({
      workspace: { lastUsedAt: NOW },
      build: { id: "b1", deadline: NOW + 3600n * S, updatedAt: NOW },
      lastBump: { at: NOW, deadline: NOW + 3600n * S },
    });
  });

  it("is not_found for a missing chat and for a chat of another user", () => {
    expect(beat(state({ chat: null }))).toBe("not_found");
    expect(beat(state({ chat: { ownerId: OTHER_USER, archived: false, status: "running" } }))).toBe(
      "not_found",
    );
  });

  it("applies the outcome precedence of docs/heartbeat.md", () => {
    const archivedNoWorkspace = state({
      chat: { ownerId: USER, archived: true, status: "waiting" },
      workspace: null,
    });
    expect(accepted(archivedNoWorkspace).outcome).toBe("chat_archived");
    const idleOfOther = state({
      chat: { ownerId: USER, archived: false, status: "waiting" },
      workspace: workspace({ ownerId: OTHER_USER }),
    });
    expect(accepted(idleOfOther).outcome).toBe("no_workspace");
    expect(accepted(state({ workspace: workspace({ deleted: true }) })).outcome).toBe(
      "no_workspace",
    );
    const prebuilt = state({ workspace: workspace({ ownerId: PREBUILDS_USER_ID }) });
    expect(heartbeat(prebuilt, { userId: PREBUILDS_USER_ID, now: NOW })).toBe("not_found");
    const prebuildsChat = state({
      chat: { ownerId: PREBUILDS_USER_ID, archived: false, status: "running" },
      workspace: workspace({ ownerId: PREBUILDS_USER_ID }),
    });
    expect(heartbeat(prebuildsChat, { userId: PREBUILDS_USER_ID, now: NOW })).toMatchObject({
      outcome: "no_workspace",
      workspaceId: null,
    });
    const idleDormant = state({
      chat: { ownerId: USER, archived: false, status: "paused" },
      workspace: workspace({ dormantAt: NOW - S }),
    });
    expect(accepted(idleDormant).outcome).toBe("chat_idle");
    const dormantStopped = state({
      workspace: workspace({ dormantAt: NOW - S }),
      builds: [build({ transition: "stop" })],
    });
    expect(accepted(dormantStopped)).toMatchObject({
      outcome: "dormant",
      writes: { workspace: null, build: null },
    });
    const noBumpNoDeadline = state({
      workspace: workspace({ template: { ...workspace().template, activityBump: 0n } }),
      builds: [build({ deadline: ZERO_TIME })],
    });
    expect(accepted(noBumpNoDeadline).outcome).toBe("bump_disabled");
    expect(accepted(state({ builds: [build({ jobCompleted: false })] })).outcome).toBe(
      "not_running",
    );
    expect(accepted(state({ builds: [] })).outcome).toBe("not_running");
    expect(accepted(state({ builds: [build({ deadline: ZERO_TIME })] })).outcome).toBe(
      "no_autostop",
    );
  });

  it("takes the build with the highest build_number, not the last in the list", () => {
    const builds = [
      build({ id: "b3", buildNumber: 3, transition: "stop" }),
      build({ id: "b2", buildNumber: 2 }),
    ];
    const result = accepted(state({ builds }));
    expect(result.outcome).toBe("not_running");
    // Not running, but still marked used (the chat is active and the workspace not dormant).
    expect(result.writes).toEqual({ workspace: { lastUsedAt: NOW }, build: null, lastBump: null });
  });

  it("marks used only when more than 60 s old, and never backwards", () => {
    const lastUsed = (lastUsedAt: bigint) =>
      accepted(state({ workspace: workspace({ lastUsedAt }), builds: [] })).writes.workspace;
    expect(lastUsed(NOW - 60n * S)).toBeNull();
    expect(lastUsed(NOW - 60n * S - 1n)).toEqual({ lastUsedAt: NOW });
    expect(lastUsed(NOW + 3600n * S)).toBeNull();
  });

  it("applies the 5 % guard exactly, to the microsecond", () => {
    const interval = 3_600_000_001n; // 0.95·I = 3_420_000_000.95 µs
    expect(isDue(NOW + 3_420_000_000n, interval, NOW)).toBe(true);
    expect(isDue(NOW + 3_420_000_001n, interval, NOW)).toBe(false);
    const due = accepted(state({ builds: [build({ deadline: NOW + 3_420_000_000n * 1n })] }));
    expect(due.outcome).toBe("not_due"); // I = 1 h exactly: 0.95·I = 3_420_000_000, strict <
    const justDue = accepted(state({ builds: [build({ deadline: NOW + 3_419_999_999n })] }));
    expect(justDue.outcome).toBe("bumped");
  });

  it("caps at max_deadline, and reports at_max_deadline when the cap is the current deadline", () => {
    const deadline = NOW + 600n * S;
    const capped = accepted(state({ builds: [build({ deadline, maxDeadline: NOW + 900n * S })] }));
    expect(capped).toMatchObject({ outcome: "bumped", deadline: NOW + 900n * S });
    const atMax = accepted(state({ builds: [build({ deadline, maxDeadline: deadline })] }));
    expect(atMax.outcome).toBe("at_max_deadline");
    expect(atMax.writes.build).toBeNull();
  });

  it("bumps to next_start_at + TTL when activity_bump would pass the next autostart", () => {
    const nextStartAt = NOW + 1800n * S;
    const autostart = workspace({ autostartSchedule: "CRON_TZ=UTC 0 9 * * 1-5", nextStartAt });
    expect(bumpInterval(autostart, NOW)).toEqual({
      interval: 1800n * S + 8n * 3600n * S,
      autostart: true,
    });
    const result = accepted(state({ workspace: autostart }));
    expect(result.deadline).toBe(nextStartAt + 8n * 3600n * S);
    // The template's default_ttl when users may not set their own autostop.
    const templateTtl = workspace({
      autostartSchedule: "CRON_TZ=UTC 0 9 * * 1-5",
      nextStartAt,
      ttl: 0n,
      template: { activityBump: HOUR_NS, allowUserAutostop: false, defaultTtl: 2n * HOUR_NS },
    });
    expect(bumpInterval(templateTtl, NOW).interval).toBe(1800n * S + 7200n * S);
    // A null/zero TTL: no bump.
    const noTtl = workspace({ autostartSchedule: "0 9 * * *", nextStartAt, ttl: null });
    expect(accepted(state({ workspace: noTtl })).outcome).toBe("bump_disabled");
    // A next start beyond now + activity_bump, or in the past: the plain activity bump.
    expect(bumpInterval({ ...autostart, nextStartAt: NOW + 3600n * S }, NOW).autostart).toBe(false);
    expect(bumpInterval({ ...autostart, nextStartAt: NOW }, NOW).autostart).toBe(false);
  });

  it("formats instants as the statement does", () => {
    expect(formatInstant(1_780_000_000_123_999n)).toBe("2026-05-28T20:26:40.123Z");
    expect(formatInstant(null)).toBeNull();
    expect(timestampLiteral(ZERO_TIME)).toBe("0001-01-01 00:00:00.000000+00");
    expect(timestampLiteral(1_780_000_000_000_042n)).toBe("2026-05-28 20:26:40.000042+00");
  });
});
