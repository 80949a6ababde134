import { describe, expect, it } from "vitest";
import {
  buildReport,
  floorWriteRatio,
  windowsToReport,
} from "../../../functions/reporter/domain/windows.ts";

const base = { windowSeconds: 300, settleSeconds: 60, maxWindows: 288 };

describe("windowsToReport", () => {
  it("starts at the earliest counted window on the first run and stops at the last settled one", () => {
    // now = 10:17:30; settled up to 10:16:30 → last complete window ends 10:15.
    const tenOClock = Date.UTC(2026, 10, 25, 10) / 1000;
    expect(
      windowsToReport({
        ...base,
        reportedUntil: null,
        earliestCount: tenOClock + 7,
        now: tenOClock + 17 * 60 + 30,
      }),
    ).toEqual({ from: tenOClock, to: tenOClock + 15 * 60 });
  });

  it("continues from the watermark and reports nothing while the next window is open or settling", () => {
    expect(
      windowsToReport({ ...base, reportedUntil: 3000, earliestCount: 0, now: 3300 + 59 }),
    ).toBeNull();
    expect(
      windowsToReport({ ...base, reportedUntil: 3000, earliestCount: 0, now: 3300 + 60 }),
    ).toEqual({
      from: 3000,
      to: 3300,
    });
  });

  it("catches up at most maxWindows windows per run", () => {
    expect(
      windowsToReport({
        ...base,
        maxWindows: 2,
        reportedUntil: 0,
        earliestCount: null,
        now: 10_000,
      }),
    ).toEqual({ from: 0, to: 600 });
  });

  it("has nothing to report without counts or watermark, and resumes on the grid after a length change", () => {
    expect(
      windowsToReport({ ...base, reportedUntil: null, earliestCount: null, now: 10_000 }),
    ).toBeNull();
    expect(
      windowsToReport({ ...base, reportedUntil: 120, earliestCount: null, now: 10_000 })?.from,
    ).toBe(300);
  });

  it("aligns to multiples of the window since the epoch, whatever the length", () => {
    const range = windowsToReport({
      windowSeconds: 7,
      settleSeconds: 0,
      maxWindows: 100,
      reportedUntil: null,
      earliestCount: 100,
      now: 130,
    });
    expect(range).toEqual({ from: 98, to: 126 });
  });
});

describe("buildReport", () => {
  const floor = floorWriteRatio(30, 3600);

  it("has the 5 % guard's floor at one write per six heartbeats for 30 s clients", () => {
    expect(floor).toBeCloseTo(1 / 6, 10);
  });

  it("expects every eligible beat to write from clients that follow the hint or beat slower", () => {
    expect(floorWriteRatio(null, 3600)).toBe(1);
    expect(floorWriteRatio(180, 3600)).toBe(1);
    expect(floorWriteRatio(300, 3600)).toBe(1);
  });

  it("under pacing, floorRatio is the share of eligible beats that wrote: early beats lower it", () => {
    const report = buildReport(
      [
        { windowStart: 0, outcome: "bumped", heartbeats: 9 },
        { windowStart: 0, outcome: "not_due", heartbeats: 1 },
        // Beats that can never write (idle chats, no autostop) do not count against the clients.
        { windowStart: 0, outcome: "chat_idle", heartbeats: 30 },
        { windowStart: 0, outcome: "no_autostop", heartbeats: 5 },
      ],
      { from: 0, to: 300 },
      { windowSeconds: 300, floorWriteRatio: floorWriteRatio(null, 3600) },
    );
    expect(report.windows[0]).toMatchObject({ accepted: 45, writeRatio: 0.2, floorRatio: 0.9 });
  });

  it("sums outcomes per window, lists only non-zero outcomes and skips empty windows", () => {
    const report = buildReport(
      [
        { windowStart: 0, outcome: "bumped", heartbeats: 2 },
        { windowStart: 0, outcome: "not_due", heartbeats: 10 },
        { windowStart: 600, outcome: "chat_idle", heartbeats: 3 },
      ],
      { from: 0, to: 900 },
      { windowSeconds: 300, floorWriteRatio: floor },
    );
    expect(report).toEqual({
      windows: [
        {
          start: "1970-01-01T00:00:00.000Z",
          end: "1970-01-01T00:05:00.000Z",
          accepted: 12,
          outcomes: { bumped: 2, not_due: 10 },
          writeRatio: 0.1667,
          floorRatio: 1,
        },
        {
          start: "1970-01-01T00:10:00.000Z",
          end: "1970-01-01T00:15:00.000Z",
          accepted: 3,
          outcomes: { chat_idle: 3 },
          writeRatio: 0,
          floorRatio: 0,
        },
      ],
    });
  });

  it("refuses counts outside the range it was asked to report", () => {
    expect(() =>
      buildReport(
        [{ windowStart: 900, outcome: "bumped", heartbeats: 1 }],
        { from: 0, to: 900 },
        {
          windowSeconds: 300,
          floorWriteRatio: floor,
        },
      ),
    ).toThrow(/outside/);
  });
});
