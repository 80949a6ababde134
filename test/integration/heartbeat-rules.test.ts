import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RecordedHeartbeat } from "../../functions/heartbeat/domain/record-heartbeat.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import {
  ago,
  type ChatStatus,
  databaseNow,
  fromNow,
  hours,
  insertBuild,
  insertChat,
  insertTemplate,
  insertWorkspace,
  PREBUILDS_USER_ID,
  readBuild,
  readLastBump,
  readOutcomeCounts,
  readWorkspace,
  seconds,
  seedRunningWorkspace,
} from "../support/fixtures.ts";
import { type HeartbeatDriver, pgHeartbeatDriver } from "../support/heartbeat-driver.ts";
import { handlerHeartbeatDriver, startHeartbeatStack } from "../support/heartbeat-stack.ts";

/**
 * docs/heartbeat.md, rule by rule, against real PostgreSQL. Each case asserts on the rows (deadline,
 * last_used_at, xmin — which changes on every write), on the returned outcome, and on the outcome
 * counter. Times are relative to the database clock.
 *
 * The suite runs once per driver and per session time zone. Add a driver (e.g. one that goes
 * through the Lambda handler and the Data API) to `DRIVERS` to run every rule through it.
 */
interface DriverUnderTest {
  name: string;
  create(db: TestDatabase): Promise<HeartbeatDriver & { close?(): Promise<void> }>;
}

const BUCKET_SECONDS = 300;

const DRIVERS: DriverUnderTest[] = [
  {
    name: "heartbeat.sql over pg",
    create: async (db) => pgHeartbeatDriver(db.pool, { bucketSeconds: BUCKET_SECONDS }),
  },
  {
    name: "the Lambda handler → SDK → local Data API → PostgreSQL",
    create: async (db) =>
      handlerHeartbeatDriver(
        await startHeartbeatStack({ REPORT_WINDOW_SECONDS: String(BUCKET_SECONDS) }, { db }),
      ),
  },
];

/**
 * Zones whose offsets are odd (+05:45, -03:30, +12:45) and a synthetic POSIX zone whose DST starts
 * tomorrow at 00:00 UTC: `timestamptz + interval` with a day part, or a day-justified difference of
 * timestamps, would be an hour off across it.
 */
const FIXED_ZONES = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham"];
const DST_TOMORROW = "dst-starts-tomorrow";

/**
 * Sets the database's default TimeZone (the synthetic DST zone is computed from the database
 * clock) over a connection of its own, before the pool opens any: sessions take it at connect.
 */
async function setDatabaseTimeZone(db: TestDatabase, zoneName: string): Promise<string> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    let zone = zoneName;
    if (zoneName === DST_TOMORROW) {
      const { rows } = await client.query<{ start_day: number; end_day: number }>(
        `SELECT extract(doy FROM (now() AT TIME ZONE 'UTC') + interval '1 day')::int - 1 AS start_day,
                extract(doy FROM (now() AT TIME ZONE 'UTC') + interval '5 days')::int - 1 AS end_day`,
      );
      const { start_day, end_day } = rows[0] ?? { start_day: 0, end_day: 0 };
      // POSIX TZ: zero-based days of the year; standard time UTC+0, DST one hour ahead.
      zone = `XST0XDT,${start_day}/0,${end_day}/0`;
    }
    await client.query(`ALTER DATABASE ${db.name} SET timezone TO ${client.escapeLiteral(zone)}`);
    return zone;
  } finally {
    await client.end();
  }
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());
const plus = (date: Date, nanoseconds: number) => new Date(date.getTime() + nanoseconds / 1e6);

/** `actual` within [from, to], to the millisecond the API reports (both ends from the DB clock). */
function expectBetween(actual: Date | null, from: Date, to: Date) {
  expect(actual).not.toBeNull();
  const ms = (actual as Date).getTime();
  expect(ms).toBeGreaterThanOrEqual(from.getTime() - 1);
  expect(ms).toBeLessThanOrEqual(to.getTime() + 1);
}

describe.each(DRIVERS)("heartbeat rules via $name", (driverUnderTest) => {
  describe.each([...FIXED_ZONES, DST_TOMORROW])("session TimeZone %s", (zoneName) => {
    let db: TestDatabase;
    let driver: HeartbeatDriver & { close?(): Promise<void> };

    beforeAll(async () => {
      db = await createTestDatabase();
      const zone = await setDatabaseTimeZone(db, zoneName);
      const { rows } = await db.pool.query<{ TimeZone: string }>("SHOW TimeZone");
      expect(rows[0]?.TimeZone).toBe(zone);
      driver = await driverUnderTest.create(db);
    });

    afterAll(async () => {
      await driver?.close?.();
      await db?.drop();
    });

    let countsBefore: Record<string, number>;
    beforeEach(async () => {
      countsBefore = await readOutcomeCounts(db.pool);
    });

    /** Heartbeats and checks the counter moved by exactly this one outcome (nothing on 404). */
    async function beat(chatId: string, userId: string) {
      const result = await driver.beat(chatId, userId);
      const countsAfter = await readOutcomeCounts(db.pool);
      const delta = Object.fromEntries(
        Object.entries(countsAfter)
          .map(([outcome, n]) => [outcome, n - (countsBefore[outcome] ?? 0)] as const)
          .filter(([, n]) => n !== 0),
      );
      expect(delta).toEqual(result === "not_found" ? {} : { [result.outcome]: 1 });
      countsBefore = countsAfter;
      return result;
    }

    async function accepted(chatId: string, userId: string): Promise<RecordedHeartbeat> {
      const result = await beat(chatId, userId);
      if (result === "not_found") throw new Error("expected an accepted heartbeat");
      return result;
    }

    /** The response reports exactly what the rows now hold. */
    async function expectResultMatchesRows(
      result: RecordedHeartbeat,
      seeded: { workspaceId: string; buildId: string },
    ) {
      const build = await readBuild(db.pool, seeded.buildId);
      const workspace = await readWorkspace(db.pool, seeded.workspaceId);
      expect(result.workspaceId).toBe(seeded.workspaceId);
      expect(result.deadline).toBe(iso(build.deadline));
      expect(result.maxDeadline).toBe(iso(build.maxDeadline));
      expect(result.lastUsedAt).toBe(iso(workspace.lastUsedAt));
    }

    /** Neither the build nor the workspace row nor the last-bump record got a new version. */
    async function expectNoWrites(
      seeded: { workspaceId: string; buildId: string },
      run: () => Promise<unknown>,
    ) {
      const buildBefore = await readBuild(db.pool, seeded.buildId);
      const workspaceBefore = await readWorkspace(db.pool, seeded.workspaceId);
      const lastBumpBefore = await readLastBump(db.pool, seeded.workspaceId);
      await run();
      expect(await readBuild(db.pool, seeded.buildId)).toEqual(buildBefore);
      expect(await readWorkspace(db.pool, seeded.workspaceId)).toEqual(workspaceBefore);
      expect(await readLastBump(db.pool, seeded.workspaceId)).toEqual(lastBumpBefore);
    }

    describe("bump", () => {
      it("moves a due deadline to now + activity_bump and records the activity", async () => {
        const seeded = await seedRunningWorkspace(db.pool);
        const before = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        const after = await databaseNow(db.pool);

        expect(result.outcome).toBe("bumped");
        const build = await readBuild(db.pool, seeded.buildId);
        expectBetween(build.deadline, plus(before, hours(1)), plus(after, hours(1)));
        expectBetween(build.updatedAt, before, after);
        expect(build.maxDeadline).toBeNull();
        const workspace = await readWorkspace(db.pool, seeded.workspaceId);
        expectBetween(workspace.lastUsedAt, before, after);
        // The bump is recorded in our schema: when, by which chat, to which deadline.
        const lastBump = await readLastBump(db.pool, seeded.workspaceId);
        expect(lastBump).toMatchObject({ source: "chat_heartbeat", chatId: seeded.chatId });
        expect(lastBump?.bumpedAt).toEqual(build.updatedAt);
        expect(lastBump?.deadline).toEqual(build.deadline);
        await expectResultMatchesRows(result, seeded);
        expect(result.deadline).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });

      it("bumps an active 'pending' chat like a 'running' one", async () => {
        const seeded = await seedRunningWorkspace(db.pool, { chat: { status: "pending" } });
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("bumped");
      });

      it("bumps only the latest build (highest build_number), whatever the insertion order", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { buildNumber: 1, deadline: fromNow(60) },
        });
        // Number 3 inserted before number 2; number 2 is a due start build too.
        const latest = await insertBuild(db.pool, {
          workspaceId: seeded.workspaceId,
          buildNumber: 3,
          deadline: fromNow(10 * 60),
        });
        const middle = await insertBuild(db.pool, {
          workspaceId: seeded.workspaceId,
          buildNumber: 2,
          deadline: fromNow(5 * 60),
        });
        const firstBefore = await readBuild(db.pool, seeded.buildId);
        const middleBefore = await readBuild(db.pool, middle.id);
        const latestBefore = await readBuild(db.pool, latest.id);

        const result = await accepted(seeded.chatId, seeded.ownerId);

        expect(result.outcome).toBe("bumped");
        expect(await readBuild(db.pool, seeded.buildId)).toEqual(firstBefore);
        expect(await readBuild(db.pool, middle.id)).toEqual(middleBefore);
        const latestAfter = await readBuild(db.pool, latest.id);
        expect(latestAfter.xmin).not.toBe(latestBefore.xmin);
        await expectResultMatchesRows(result, { ...seeded, buildId: latest.id });
      });

      it("moves a deadline already in the past (build still running) to now + I", async () => {
        const seeded = await seedRunningWorkspace(db.pool, { build: { deadline: ago(10 * 60) } });
        const before = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        const after = await databaseNow(db.pool);
        expect(result.outcome).toBe("bumped");
        expectBetween(
          (await readBuild(db.pool, seeded.buildId)).deadline,
          plus(before, hours(1)),
          plus(after, hours(1)),
        );
      });

      it("bumps by exact microseconds for a multi-day activity_bump, whatever the zone's DST", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { activityBump: hours(72) },
          build: { deadline: fromNow(60) },
        });
        const before = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        const after = await databaseNow(db.pool);
        expect(result.outcome).toBe("bumped");
        expectBetween(
          (await readBuild(db.pool, seeded.buildId)).deadline,
          plus(before, hours(72)),
          plus(after, hours(72)),
        );
      });
    });

    describe("the 5 % guard", () => {
      // I = 1 h, so the guard is deadline - 57 min < now.
      it("does not write when the deadline is just beyond now + 0.95 I", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(57 * 60 + 5) },
          workspace: { lastUsedAt: ago(5) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result?.outcome).toBe("not_due");
        await expectResultMatchesRows(result as RecordedHeartbeat, seeded);
      });

      it("writes when the deadline is just inside now + 0.95 I", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(57 * 60 - 5) },
        });
        const before = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        const after = await databaseNow(db.pool);
        expect(result.outcome).toBe("bumped");
        expectBetween(
          (await readBuild(db.pool, seeded.buildId)).deadline,
          plus(before, hours(1)),
          plus(after, hours(1)),
        );
      });

      it("never lowers a deadline further out than now + I", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(5 * 3600) },
        });
        const before = await readBuild(db.pool, seeded.buildId);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("not_due");
        expect(await readBuild(db.pool, seeded.buildId)).toEqual(before);
      });
    });

    describe("max_deadline", () => {
      it("caps the new deadline at max_deadline, then reports at_max_deadline without writing", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(10 * 60), maxDeadline: fromNow(45 * 60) },
        });
        const first = await accepted(seeded.chatId, seeded.ownerId);
        expect(first.outcome).toBe("bumped");
        const capped = await readBuild(db.pool, seeded.buildId);
        expect(capped.deadline).toEqual(capped.maxDeadline);
        await expectResultMatchesRows(first, seeded);

        // Now deadline = max_deadline = now + 45 min: due (< now + 57 min), but cannot move.
        const workspaceBefore = await readWorkspace(db.pool, seeded.workspaceId);
        const second = await accepted(seeded.chatId, seeded.ownerId);
        expect(second.outcome).toBe("at_max_deadline");
        expect(await readBuild(db.pool, seeded.buildId)).toEqual(capped);
        expect(await readWorkspace(db.pool, seeded.workspaceId)).toEqual(workspaceBefore);
        await expectResultMatchesRows(second, seeded);
      });

      it("reports at_max_deadline for a deadline already at max_deadline", async () => {
        const max = fromNow(10 * 60);
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: max, maxDeadline: max },
          workspace: { lastUsedAt: ago(1) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result?.outcome).toBe("at_max_deadline");
      });

      it("bumps below a distant max_deadline without touching it", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(10 * 60), maxDeadline: fromNow(10 * 3600) },
        });
        const before = await readBuild(db.pool, seeded.buildId);
        const now = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        const after = await readBuild(db.pool, seeded.buildId);
        expect(result.outcome).toBe("bumped");
        expect(after.maxDeadline).toEqual(before.maxDeadline);
        expectBetween(
          after.deadline,
          plus(now, hours(1)),
          plus(await databaseNow(db.pool), hours(1)),
        );
      });
    });

    describe("not eligible for a bump (the workspace is still marked used)", () => {
      const cases: Array<{
        name: string;
        outcome: RecordedHeartbeat["outcome"];
        options: Parameters<typeof seedRunningWorkspace>[1];
      }> = [
        {
          name: "latest build is a stop",
          outcome: "not_running",
          options: { build: { transition: "stop" } },
        },
        {
          name: "latest build is a delete",
          outcome: "not_running",
          options: { build: { transition: "delete" } },
        },
        {
          name: "the build's job has not completed",
          outcome: "not_running",
          options: { build: { jobCompletedAt: null } },
        },
        {
          name: "deadline is the zero time",
          outcome: "no_autostop",
          options: { build: { deadline: "zero" } },
        },
        {
          name: "template activity_bump is 0",
          outcome: "bump_disabled",
          options: { template: { activityBump: 0 } },
        },
      ];

      for (const { name, outcome, options } of cases) {
        it(`${outcome} when ${name}`, async () => {
          const seeded = await seedRunningWorkspace(db.pool, {
            ...options,
            workspace: { lastUsedAt: ago(3600) },
          });
          const buildBefore = await readBuild(db.pool, seeded.buildId);
          const now = await databaseNow(db.pool);
          const result = await accepted(seeded.chatId, seeded.ownerId);
          expect(result.outcome).toBe(outcome);
          expect(await readBuild(db.pool, seeded.buildId)).toEqual(buildBefore);
          const workspace = await readWorkspace(db.pool, seeded.workspaceId);
          expectBetween(workspace.lastUsedAt, now, await databaseNow(db.pool));
          expect(await readLastBump(db.pool, seeded.workspaceId)).toBeNull();
          await expectResultMatchesRows(result, seeded);
        });
      }

      it("not_running when an older start build exists but the latest is a stop", async () => {
        const seeded = await seedRunningWorkspace(db.pool, { build: { deadline: fromNow(60) } });
        const stop = await insertBuild(db.pool, {
          workspaceId: seeded.workspaceId,
          buildNumber: 2,
          transition: "stop",
          deadline: "zero",
        });
        const startBefore = await readBuild(db.pool, seeded.buildId);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("not_running");
        expect(await readBuild(db.pool, seeded.buildId)).toEqual(startBefore);
        expect(result.deadline).toBeNull();
        await expectResultMatchesRows(result, { ...seeded, buildId: stop.id });
      });

      it("not_running when the workspace has no build at all", async () => {
        const ownerId = randomUUID();
        const template = await insertTemplate(db.pool);
        const workspace = await insertWorkspace(db.pool, { ownerId, templateId: template.id });
        const chat = await insertChat(db.pool, { ownerId, workspaceId: workspace.id });
        const result = await accepted(chat.id, ownerId);
        expect(result).toMatchObject({
          outcome: "not_running",
          workspaceId: workspace.id,
          deadline: null,
        });
      });
    });

    describe("autostart branch: I = (next_start_at - now) + TTL", () => {
      async function nextStartAt(workspaceId: string): Promise<Date> {
        const { rows } = await db.pool.query<{ ms: number }>(
          "SELECT floor(extract(epoch FROM next_start_at) * 1000)::float8 AS ms FROM workspaces WHERE id = $1",
          [workspaceId],
        );
        return new Date(rows[0]?.ms ?? Number.NaN);
      }

      const autostart = (overrides: { ttl?: number | null; nextStartInSeconds?: number }) => ({
        autostartSchedule: "CRON_TZ=UTC 0 9 * * 1-5",
        nextStartAt: fromNow(overrides.nextStartInSeconds ?? 30 * 60),
        ttl: overrides.ttl === undefined ? hours(2) : overrides.ttl,
      });

      it("uses the workspace ttl when the template allows user autostop", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { allowUserAutostop: true, defaultTtl: hours(8) },
          workspace: autostart({ ttl: hours(2) }),
          build: { deadline: fromNow(10 * 60) },
        });
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("bumped");
        const expected = plus(await nextStartAt(seeded.workspaceId), hours(2));
        expect((await readBuild(db.pool, seeded.buildId)).deadline).toEqual(expected);
        expect(result.deadline).toBe(expected.toISOString());
      });

      it("uses the template default_ttl when the template disallows user autostop", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { allowUserAutostop: false, defaultTtl: hours(3) },
          workspace: autostart({ ttl: hours(2) }),
          build: { deadline: fromNow(10 * 60) },
        });
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("bumped");
        const expected = plus(await nextStartAt(seeded.workspaceId), hours(3));
        expect((await readBuild(db.pool, seeded.buildId)).deadline).toEqual(expected);
      });

      it("is exact when next_start_at lies across a DST change (days are not 24 h there)", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { activityBump: hours(48) },
          workspace: autostart({ ttl: hours(8), nextStartInSeconds: 47 * 3600 }),
          build: { deadline: fromNow(10 * 60) },
        });
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("bumped");
        const expected = plus(await nextStartAt(seeded.workspaceId), hours(8));
        expect((await readBuild(db.pool, seeded.buildId)).deadline).toEqual(expected);
      });

      for (const ttl of [null, 0]) {
        it(`bump_disabled for a ${ttl === null ? "null" : "zero"} TTL`, async () => {
          const seeded = await seedRunningWorkspace(db.pool, {
            template: { allowUserAutostop: true },
            workspace: autostart({ ttl }),
            build: { deadline: fromNow(10 * 60) },
          });
          const before = await readBuild(db.pool, seeded.buildId);
          const result = await accepted(seeded.chatId, seeded.ownerId);
          expect(result.outcome).toBe("bump_disabled");
          expect(await readBuild(db.pool, seeded.buildId)).toEqual(before);
        });
      }

      it("bump_disabled when the template's default_ttl is 0 and user autostop is not allowed", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { allowUserAutostop: false, defaultTtl: 0 },
          workspace: autostart({ ttl: hours(2) }),
          build: { deadline: fromNow(10 * 60) },
        });
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("bump_disabled");
      });

      const plainBumpCases: Array<
        [string, ReturnType<typeof autostart> | Record<string, unknown>]
      > = [
        [
          "next_start_at is beyond now + activity_bump",
          autostart({ nextStartInSeconds: 2 * 3600 }),
        ],
        ["next_start_at is in the past", autostart({ nextStartInSeconds: -60 })],
        ["there is no autostart schedule", { ...autostart({}), autostartSchedule: null }],
        // Regression: a NULL next_start_at once made the branch test NULL, and I NULL: no bump ever.
        ["a schedule is set but next_start_at is not", { ...autostart({}), nextStartAt: null }],
      ];
      for (const [name, workspace] of plainBumpCases) {
        it(`bumps by activity_bump when ${name}`, async () => {
          const seeded = await seedRunningWorkspace(db.pool, {
            workspace,
            build: { deadline: fromNow(10 * 60) },
          });
          const before = await databaseNow(db.pool);
          const result = await accepted(seeded.chatId, seeded.ownerId);
          const after = await databaseNow(db.pool);
          expect(result.outcome).toBe("bumped");
          expectBetween(
            (await readBuild(db.pool, seeded.buildId)).deadline,
            plus(before, hours(1)),
            plus(after, hours(1)),
          );
        });
      }
    });

    describe("resolution: nothing is written", () => {
      it("dormant: neither bumped nor marked used", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          workspace: { dormantAt: ago(3600), lastUsedAt: ago(7 * 24 * 3600) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result?.outcome).toBe("dormant");
        await expectResultMatchesRows(result as RecordedHeartbeat, seeded);
      });

      it("no_workspace for a deleted workspace", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          workspace: { deleted: true, lastUsedAt: ago(3600) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result).toEqual({
          outcome: "no_workspace",
          workspaceId: null,
          deadline: null,
          maxDeadline: null,
          lastUsedAt: null,
          nextHeartbeatSeconds: 300,
        });
      });

      it("no_workspace for a chat without a workspace", async () => {
        const ownerId = randomUUID();
        const chat = await insertChat(db.pool, { ownerId, workspaceId: null });
        expect(await accepted(chat.id, ownerId)).toEqual({
          outcome: "no_workspace",
          workspaceId: null,
          deadline: null,
          maxDeadline: null,
          lastUsedAt: null,
          nextHeartbeatSeconds: 300,
        });
      });

      it("no_workspace when the chat points at another user's workspace", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          workspace: { lastUsedAt: ago(3600) },
        });
        const intruder = randomUUID();
        const chat = await insertChat(db.pool, {
          ownerId: intruder,
          workspaceId: seeded.workspaceId,
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(chat.id, intruder);
        });
        expect(result).toMatchObject({
          outcome: "no_workspace",
          workspaceId: null,
          deadline: null,
        });
      });

      it("no_workspace for a prebuilt workspace (owned by the prebuilds system user)", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          ownerId: PREBUILDS_USER_ID,
          workspace: { lastUsedAt: ago(3600) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, PREBUILDS_USER_ID);
        });
        expect(result).toMatchObject({ outcome: "no_workspace", workspaceId: null });
      });

      it("not_found (and nothing counted) for another user's chat", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          workspace: { lastUsedAt: ago(3600) },
        });
        await expectNoWrites(seeded, async () => {
          expect(await beat(seeded.chatId, randomUUID())).toBe("not_found");
        });
      });

      it("not_found (and nothing counted) for a chat that does not exist", async () => {
        expect(await beat(randomUUID(), randomUUID())).toBe("not_found");
      });

      it("chat_archived for an archived chat, even an active one on a due workspace", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          chat: { archived: true, status: "running" },
          workspace: { lastUsedAt: ago(3600) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result?.outcome).toBe("chat_archived");
      });

      it("chat_archived takes precedence over no_workspace", async () => {
        const ownerId = randomUUID();
        const chat = await insertChat(db.pool, { ownerId, archived: true });
        expect((await accepted(chat.id, ownerId)).outcome).toBe("chat_archived");
      });

      const idleStatuses: ChatStatus[] = [
        "waiting",
        "paused",
        "completed",
        "error",
        "requires_action",
      ];
      for (const status of idleStatuses) {
        it(`chat_idle for a '${status}' chat`, async () => {
          const seeded = await seedRunningWorkspace(db.pool, {
            chat: { status },
            workspace: { lastUsedAt: ago(3600) },
          });
          let result: RecordedHeartbeat | undefined;
          await expectNoWrites(seeded, async () => {
            result = await accepted(seeded.chatId, seeded.ownerId);
          });
          expect(result?.outcome).toBe("chat_idle");
          await expectResultMatchesRows(result as RecordedHeartbeat, seeded);
        });
      }

      it("chat_idle takes precedence over dormant", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          chat: { status: "paused" },
          workspace: { dormantAt: ago(60) },
        });
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("chat_idle");
      });
    });

    describe("last_used_at (dormancy)", () => {
      // A deadline far ahead makes every heartbeat here `not_due`, isolating the 60 s guard.
      const notDue = { build: { deadline: fromNow(10 * 3600) } };

      it("is left alone when written less than 60 s ago", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          ...notDue,
          workspace: { lastUsedAt: ago(30) },
        });
        let result: RecordedHeartbeat | undefined;
        await expectNoWrites(seeded, async () => {
          result = await accepted(seeded.chatId, seeded.ownerId);
        });
        expect(result?.outcome).toBe("not_due");
        await expectResultMatchesRows(result as RecordedHeartbeat, seeded);
      });

      it("is moved to now when more than 60 s old, and only once for back-to-back heartbeats", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          ...notDue,
          workspace: { lastUsedAt: ago(90) },
        });
        const before = await databaseNow(db.pool);
        const first = await accepted(seeded.chatId, seeded.ownerId);
        const after = await databaseNow(db.pool);
        const written = await readWorkspace(db.pool, seeded.workspaceId);
        expectBetween(written.lastUsedAt, before, after);
        expect(await readLastBump(db.pool, seeded.workspaceId)).toBeNull();
        await expectResultMatchesRows(first, seeded);

        await expectNoWrites(seeded, async () => {
          expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("not_due");
        });
      });

      it("is marked from the zero time (never used)", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          ...notDue,
          workspace: { lastUsedAt: "zero" },
        });
        const before = await databaseNow(db.pool);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expectBetween(
          (await readWorkspace(db.pool, seeded.workspaceId)).lastUsedAt,
          before,
          await databaseNow(db.pool),
        );
        expect(result.lastUsedAt).not.toBeNull();
      });

      it("never moves backwards from a value in the future", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          ...notDue,
          workspace: { lastUsedAt: fromNow(3600) },
        });
        await expectNoWrites(seeded, () => accepted(seeded.chatId, seeded.ownerId));
      });

      it("keeps a recent last_used_at when a heartbeat bumps: the workspace row is not written", async () => {
        const seeded = await seedRunningWorkspace(db.pool, { workspace: { lastUsedAt: ago(10) } });
        const before = await readWorkspace(db.pool, seeded.workspaceId);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        expect(result.outcome).toBe("bumped");
        expect(await readWorkspace(db.pool, seeded.workspaceId)).toEqual(before);
        expect(await readLastBump(db.pool, seeded.workspaceId)).toMatchObject({
          chatId: seeded.chatId,
        });
      });
    });

    describe("the last bump, recorded in chat_heartbeat.workspace_last_bump", () => {
      it("is kept when a later heartbeat does not bump", async () => {
        const seeded = await seedRunningWorkspace(db.pool);
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("bumped");
        const recorded = await readLastBump(db.pool, seeded.workspaceId);
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("not_due");
        expect(await readLastBump(db.pool, seeded.workspaceId)).toEqual(recorded);
      });

      it("names the chat of the latest bump when two chats share a workspace", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          template: { activityBump: seconds(1) },
          build: { deadline: fromNow(0.5) },
        });
        const other = await insertChat(db.pool, {
          ownerId: seeded.ownerId,
          workspaceId: seeded.workspaceId,
        });
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("bumped");
        expect((await readLastBump(db.pool, seeded.workspaceId))?.chatId).toBe(seeded.chatId);
        // A 1 s bump is due again after 50 ms.
        await new Promise((resolve) => setTimeout(resolve, 120));
        const second = await accepted(other.id, seeded.ownerId);
        expect(second.outcome).toBe("bumped");
        const lastBump = await readLastBump(db.pool, seeded.workspaceId);
        expect(lastBump?.chatId).toBe(other.id);
        expect(lastBump?.deadline.toISOString()).toBe(second.deadline);
      });

      it("is not written when a due bump is capped at max_deadline (at_max_deadline)", async () => {
        const seeded = await seedRunningWorkspace(db.pool, {
          build: { deadline: fromNow(600), maxDeadline: fromNow(600) },
        });
        expect((await accepted(seeded.chatId, seeded.ownerId)).outcome).toBe("at_max_deadline");
        expect(await readLastBump(db.pool, seeded.workspaceId)).toBeNull();
      });
    });

    describe("the pacing hint, nextHeartbeatSeconds (docs/heartbeat.md)", () => {
      const hint = async (options: Parameters<typeof seedRunningWorkspace>[1]) => {
        const seeded = await seedRunningWorkspace(db.pool, options);
        const result = await accepted(seeded.chatId, seeded.ownerId);
        return [result.outcome, result.nextHeartbeatSeconds];
      };

      it("is 0.05 I after a bump: 180 s for a 1 h bump", async () => {
        expect(await hint({})).toEqual(["bumped", 180]);
      });

      it("is the whole seconds until the guard opens, rounded up, when not due", async () => {
        // Deadline 59 min ahead, 1 h bump: the guard opens in 2 min (plus under a second).
        expect(await hint({ build: { deadline: fromNow(59 * 60 + 0.5) } })).toEqual([
          "not_due",
          121,
        ]);
      });

      it("is at least 15 s, however soon the guard opens", async () => {
        expect(await hint({ build: { deadline: fromNow(57 * 60 + 3) } })).toEqual(["not_due", 15]);
      });

      it("is at most 300 s, however late the guard opens", async () => {
        expect(await hint({ build: { deadline: fromNow(10 * 3600) } })).toEqual(["not_due", 300]);
        expect(await hint({ template: { activityBump: hours(8) } })).toEqual(["bumped", 300]);
      });

      it("is 30 s for an idle chat and for a workspace that is not running", async () => {
        expect(await hint({ chat: { status: "waiting" } })).toEqual(["chat_idle", 30]);
        expect(await hint({ build: { transition: "stop" } })).toEqual(["not_running", 30]);
      });

      it("is 300 s for the other outcomes", async () => {
        expect(await hint({ build: { deadline: "zero" } })).toEqual(["no_autostop", 300]);
        expect(await hint({ workspace: { dormantAt: ago(60) } })).toEqual(["dormant", 300]);
      });

      it("is never more than deadline − now − 60 s, and at least 15 s, while the deadline is ahead", async () => {
        // An idle chat whose workspace stops in 2 min: 120 − 60 = 60 > 30, so 30 stands.
        expect(
          await hint({ chat: { status: "paused" }, build: { deadline: fromNow(120.5) } }),
        ).toEqual(["chat_idle", 30]);
        // A dormant workspace whose deadline is 100.5 s away: floor(40.5) = 40 < 300.
        expect(
          await hint({ workspace: { dormantAt: ago(60) }, build: { deadline: fromNow(100.5) } }),
        ).toEqual(["dormant", 40]);
        // 70 s away: floor(10) is below the 15 s floor.
        expect(await hint({ build: { transition: "stop", deadline: fromNow(70) } })).toEqual([
          "not_running",
          15,
        ]);
      });
    });

    describe("outcome counts", () => {
      it("land in a bucket starting at a multiple of the bucket width since the epoch", async () => {
        const seeded = await seedRunningWorkspace(db.pool);
        const before = await databaseNow(db.pool);
        await accepted(seeded.chatId, seeded.ownerId);
        const { rows } = await db.pool.query<{ epoch: string; outcome: string }>(
          `SELECT extract(epoch FROM bucket_start)::bigint::text AS epoch, outcome
           FROM chat_heartbeat.outcome_counts ORDER BY bucket_start DESC LIMIT 1`,
        );
        const bucketStart = Number(rows[0]?.epoch);
        expect(bucketStart % BUCKET_SECONDS).toBe(0);
        expect(bucketStart * 1000).toBeLessThanOrEqual(before.getTime() + 1000);
        expect((bucketStart + BUCKET_SECONDS) * 1000).toBeGreaterThan(before.getTime() - 1000);
      });

      it("count every outcome of a mixed sequence exactly once", async () => {
        const due = await seedRunningWorkspace(db.pool);
        const idle = await seedRunningWorkspace(db.pool, { chat: { status: "completed" } });
        const start = await readOutcomeCounts(db.pool);
        await accepted(due.chatId, due.ownerId); // bumped
        await accepted(due.chatId, due.ownerId); // not_due
        await accepted(idle.chatId, idle.ownerId); // chat_idle
        expect(await beat(due.chatId, idle.ownerId)).toBe("not_found");
        const end = await readOutcomeCounts(db.pool);
        const delta = (outcome: string) => (end[outcome] ?? 0) - (start[outcome] ?? 0);
        expect([delta("bumped"), delta("not_due"), delta("chat_idle")]).toEqual([1, 1, 1]);
        const total = Object.values(end).reduce((a, b) => a + b, 0);
        const startTotal = Object.values(start).reduce((a, b) => a + b, 0);
        expect(total - startTotal).toBe(3);
      });
    });
  });
});
