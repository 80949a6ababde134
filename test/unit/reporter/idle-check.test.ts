import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Activity,
  type ActivitySource,
  checkIdle,
  type IdleCheckSettings,
  idleLookbackSeconds,
  isIdle,
} from "../../../functions/reporter/domain/idle-check.ts";
import {
  type EpochSeconds,
  lastCompleteWindowEnd,
  windowsToReport,
} from "../../../functions/reporter/domain/windows.ts";

const HOURLY: IdleCheckSettings = {
  schedulePeriodSeconds: 3600,
  windowSeconds: 300,
  settleSeconds: 60,
  marginSeconds: 300,
};

const idle: Activity = { heartbeats: 0, incompleteRuns: 0, complete: true };

describe("idleLookbackSeconds", () => {
  it("is period + window + settle + margin: 71 minutes for the deployed defaults", () => {
    expect(idleLookbackSeconds(HOURLY)).toBe(71 * 60);
    expect(idleLookbackSeconds({ ...HOURLY, schedulePeriodSeconds: 900, marginSeconds: 0 })).toBe(
      900 + 300 + 60,
    );
  });
});

describe("isIdle", () => {
  it("is true only for a complete answer with no heartbeat and no incomplete run", () => {
    expect(isIdle(idle)).toBe(true);
    expect(isIdle({ ...idle, heartbeats: 1 })).toBe(false);
    expect(isIdle({ ...idle, incompleteRuns: 1 })).toBe(false);
    expect(isIdle({ ...idle, complete: false })).toBe(false);
  });
});

/** An activity source answering from fixed data, recording what it was asked. */
function fakeSource(answer: Activity | Error) {
  const asked: { from: Date; to: Date }[] = [];
  const source: ActivitySource = {
    async activityBetween(from, to) {
      asked.push({ from, to });
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { source, asked };
}

describe("checkIdle", () => {
  const now = new Date("2026-11-25T10:00:30.000Z");

  it("asks once, for the lookback ending now, and skips when nothing happened", async () => {
    const { source, asked } = fakeSource(idle);
    const check = await checkIdle(source, HOURLY, now);
    const from = new Date(now.getTime() - 71 * 60_000);
    expect(asked).toEqual([{ from, to: now }]);
    expect(check).toEqual({ skip: true, from, to: now });
  });

  it("reports when a heartbeat or an incomplete run shows", async () => {
    for (const activity of [
      { ...idle, heartbeats: 3 },
      { ...idle, incompleteRuns: 1 },
    ]) {
      expect(await checkIdle(fakeSource(activity).source, HOURLY, now)).toEqual({
        skip: false,
        because: "activity",
        activity,
      });
    }
  });

  it("reports when CloudWatch answered only in part, even with zeros", async () => {
    const partial = { ...idle, complete: false };
    expect(await checkIdle(fakeSource(partial).source, HOURLY, now)).toEqual({
      skip: false,
      because: "partial-answer",
      activity: partial,
    });
  });

  it("reports from the database when CloudWatch cannot answer", async () => {
    const denied = Object.assign(new Error("not authorized to perform cloudwatch:GetMetricData"), {
      name: "AccessDenied",
    });
    expect(await checkIdle(fakeSource(denied).source, HOURLY, now)).toEqual({
      skip: false,
      because: "no-answer",
      error: denied,
    });
  });
});

/**
 * The reporter over days, in a model that uses the real decision (checkIdle, windowsToReport):
 * heartbeats whose metric shows up in CloudWatch `delay` seconds late, runs that EventBridge
 * starts up to `jitter` seconds late, database runs that fail, a per-run window cap. A run that
 * fails or stops at the cap leaves a `report_incomplete` data point, as the handler does.
 */
interface World {
  settings: IdleCheckSettings;
  /** Gaps between runs beyond the period (lateness), one per run. */
  lateness: number[];
  heartbeats: { at: EpochSeconds; delay: number }[];
  /** Per database run: does it fail? Cycled. */
  failures: boolean[];
  maxWindows: number;
}

interface Outcome {
  runs: { at: EpochSeconds; skipped: boolean; failed: boolean }[];
  reportedAt: Map<number, EpochSeconds>;
  /** Runs that skipped while a heartbeat was reportable (complete window, metric visible). */
  skippedReportable: { run: EpochSeconds; heartbeat: number }[];
}

async function simulate(world: World, totalRuns: number): Promise<Outcome> {
  const { settings } = world;
  const w = settings.windowSeconds;
  const markers: EpochSeconds[] = [];
  const reportedAt = new Map<number, EpochSeconds>();
  const skippedReportable: Outcome["skippedReportable"] = [];
  const runs: Outcome["runs"] = [];
  let watermark: EpochSeconds | null = null;
  let at: EpochSeconds = 0;
  let databaseRuns = 0;
  for (let i = 0; i < totalRuns; i++) {
    at += settings.schedulePeriodSeconds + (world.lateness[i % world.lateness.length] ?? 0);
    const now = at;
    // CloudWatch as of `now`: data points in [from, to] that have landed.
    const source: ActivitySource = {
      async activityBetween(from, to) {
        const [a, b] = [from.getTime() / 1000, to.getTime() / 1000];
        const seen = (t: number, visible: number) => t >= a && t <= b && visible <= now;
        return {
          heartbeats: world.heartbeats.filter((hb) => seen(hb.at, hb.at + hb.delay)).length,
          // The reporter's own data point lands within a few minutes too.
          incompleteRuns: markers.filter((t) => seen(t, t + 180)).length,
          complete: true,
        };
      },
    };
    const check = await checkIdle(source, settings, new Date(now * 1000));
    if (check.skip) {
      world.heartbeats.forEach((hb, index) => {
        const complete = Math.floor(hb.at / w) * w + w + settings.settleSeconds <= now;
        if (!reportedAt.has(index) && complete && hb.at + hb.delay <= now) {
          skippedReportable.push({ run: now, heartbeat: index });
        }
      });
      runs.push({ at: now, skipped: true, failed: false });
      continue;
    }
    const failed = world.failures[databaseRuns++ % world.failures.length] ?? false;
    runs.push({ at: now, skipped: false, failed });
    if (failed) {
      markers.push(now);
      continue;
    }
    // As report-lock-watermark.sql: the first run starts at the earliest counted window.
    const counted = world.heartbeats.map((hb) => hb.at).filter((t) => t <= now);
    const range = windowsToReport({
      reportedUntil: watermark,
      earliestCount: counted.length > 0 ? Math.min(...counted) : null,
      now,
      windowSeconds: w,
      settleSeconds: settings.settleSeconds,
      maxWindows: world.maxWindows,
    });
    if (range === null) continue;
    world.heartbeats.forEach((hb, index) => {
      if (hb.at >= range.from && hb.at < range.to) {
        expect(reportedAt.has(index), `heartbeat ${index} reported twice`).toBe(false);
        reportedAt.set(index, now);
      }
    });
    watermark = range.to;
    if (range.to < lastCompleteWindowEnd(now, w, settings.settleSeconds)) markers.push(now);
  }
  return { runs, reportedAt, skippedReportable };
}

describe("the reporter with the idle check, simulated", () => {
  const DAY_RUNS = 24;

  it("an idle day: 24 runs, 24 database runs without the check, none with it", async () => {
    const outcome = await simulate(
      { settings: HOURLY, lateness: [0], heartbeats: [], failures: [false], maxWindows: 288 },
      DAY_RUNS,
    );
    expect(outcome.runs.filter((run) => !run.skipped)).toHaveLength(0);
  });

  it("a heartbeat in the last window before a late run is still seen by that run", async () => {
    // A run at 00:00:30 reports up to 23:55; a heartbeat at 23:55:00 is the next run's, and that
    // run comes 90 s late. Period + window + settle alone would start the lookback at 23:56.
    const base = 86_400 * 10;
    const heartbeat = { at: base - 300, delay: 0 };
    const runAt = base + 3600 + 30 + 90;
    const source: ActivitySource = {
      async activityBetween(from) {
        return { ...idle, heartbeats: heartbeat.at >= from.getTime() / 1000 ? 1 : 0 };
      },
    };
    const now = new Date(runAt * 1000);
    expect((await checkIdle(source, { ...HOURLY, marginSeconds: 0 }, now)).skip).toBe(true);
    expect((await checkIdle(source, HOURLY, now)).skip).toBe(false);
  });

  it("never skips past a reportable heartbeat, never reports twice, and goes idle again", async () => {
    const hour = 3600;
    const MAX_LATENESS = 120;
    const MAX_DELAY = 240;
    const scenario = fc.record({
      window: fc.constantFrom(60, 300, 600),
      settle: fc.constantFrom(0, 60),
      // EventBridge up to 2 min late (often the full 2 min); EMF up to 4 min late.
      lateness: fc.array(
        fc.oneof(fc.constant(MAX_LATENESS), fc.integer({ min: 0, max: MAX_LATENESS })),
        { minLength: 1, maxLength: 30 },
      ),
      anywhere: fc.array(
        fc.record({
          at: fc.integer({ min: 1, max: 3 * 24 * hour }),
          delay: fc.integer({ min: 0, max: MAX_DELAY }),
        }),
        { maxLength: 20 },
      ),
      // The edges that decide the lookback: right at the end of what run k reported (the oldest
      // instant the next run must still see), and right where run k stops seeing late points.
      edges: fc.array(
        fc.record({
          run: fc.integer({ min: 0, max: 71 }),
          edge: fc.constantFrom("reported-end", "visible-edge"),
          nudge: fc.integer({ min: -2, max: 2 }),
          delay: fc.oneof(fc.constant(MAX_DELAY), fc.integer({ min: 0, max: MAX_DELAY })),
        }),
        { maxLength: 20 },
      ),
      failures: fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
      maxWindows: fc.integer({ min: 1, max: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const settings = {
          ...HOURLY,
          windowSeconds: s.window,
          settleSeconds: s.settle,
          // The margin this model needs: lateness + (delay − window − settle)⁺ (see idle-check.ts).
          marginSeconds: MAX_LATENESS + Math.max(0, MAX_DELAY - s.window - s.settle),
        };
        const runAt = (k: number) => {
          let at = 0;
          for (let i = 0; i <= k; i++) at += 3600 + (s.lateness[i % s.lateness.length] ?? 0);
          return at;
        };
        const heartbeats = [
          ...s.anywhere,
          ...s.edges.map((e) => ({
            at: Math.max(
              1,
              (e.edge === "reported-end"
                ? lastCompleteWindowEnd(runAt(e.run), s.window, s.settle)
                : runAt(e.run) - e.delay) + e.nudge,
            ),
            delay: e.delay,
          })),
        ];
        // Failures only in the first 3 days, then 3 quiet days to drain any backlog.
        const failures = [...s.failures, ...Array(200).fill(false)];
        const outcome = await simulate(
          { settings, lateness: s.lateness, heartbeats, failures, maxWindows: 1_000 },
          6 * 24,
        );
        expect(outcome.skippedReportable).toEqual([]);
        expect(outcome.reportedAt.size).toBe(heartbeats.length);
        // The last day is idle: no database run at all.
        expect(outcome.runs.slice(-24).filter((run) => !run.skipped)).toEqual([]);
        // A small per-run cap: the backlog drains through report_incomplete data points.
        const capped = await simulate(
          {
            settings,
            lateness: s.lateness,
            heartbeats,
            failures: [false],
            maxWindows: s.maxWindows,
          },
          6 * 24,
        );
        expect(capped.skippedReportable).toEqual([]);
        // A backlog larger than the cap drains over many runs: until it has, no run skips.
        const drained = capped.reportedAt.size === heartbeats.length;
        expect(drained || !capped.runs.at(-1)?.skipped).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("without failures or a cap, each heartbeat is reported by the first run after it is ready", async () => {
    const heartbeats = Array.from({ length: 50 }, (_, i) => ({
      at: 1_000 + i * 4_111,
      delay: (i * 37) % 200,
    }));
    const outcome = await simulate(
      {
        settings: HOURLY,
        lateness: [0, 45, 90, 10],
        heartbeats,
        failures: [false],
        maxWindows: 288,
      },
      3 * 24,
    );
    heartbeats.forEach((hb, index) => {
      const ready = Math.max(Math.floor(hb.at / 300) * 300 + 300 + 60, hb.at + hb.delay);
      const firstRunAfter = outcome.runs.find((run) => run.at >= ready)?.at;
      expect(outcome.reportedAt.get(index), `heartbeat ${index}`).toBe(firstRunAfter);
    });
  });
});
