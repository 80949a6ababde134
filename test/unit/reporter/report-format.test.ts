import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  nextReportableWindow,
  windowsToReport,
} from "../../../functions/reporter/domain/windows.ts";
import { formatReportTable, nothingToReportNotice } from "../../../tools/local/report-format.ts";

/** `npm run report`'s table and its "nothing to report yet" notice. */

describe("nextReportableWindow", () => {
  it("is the first moment the reporter reports that window, by the reporter's own rule", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }),
        fc.constantFrom(60, 300, 900),
        fc.integer({ min: 0, max: 120 }),
        (now, windowSeconds, settleSeconds) => {
          const next = nextReportableWindow(now, windowSeconds, settleSeconds);
          expect(next.end - next.start).toBe(windowSeconds);
          expect(next.reportableAt).toBeGreaterThan(now);
          // Watermark at the window's start: reportable exactly from `reportableAt`, not before.
          const range = (at: number) =>
            windowsToReport({
              reportedUntil: next.start,
              earliestCount: null,
              now: at,
              windowSeconds,
              settleSeconds,
              maxWindows: 1000,
            });
          expect(range(next.reportableAt - 1)).toBeNull();
          expect(range(next.reportableAt)).toEqual({ from: next.start, to: next.end });
        },
      ),
    );
  });
});

describe("nothingToReportNotice", () => {
  it("names the next window and when it becomes reportable (end + settle)", () => {
    // 12:03:10 UTC, 300 s windows, 60 s settle: 12:00–12:05 is next, reportable at 12:06.
    const now = Date.UTC(2026, 11, 3, 12, 3, 10) / 1000;
    expect(nothingToReportNotice(now, 300, 60)).toBe(
      "Nothing to report yet. The next window, 2026-12-03T12:00:00.000Z to 2026-12-03T12:05:00.000Z, " +
        "becomes reportable at 2026-12-03T12:06:00.000Z (its end + 60 s settle delay; 300 s windows), " +
        "in 170 s: run `npm run report` again then.",
    );
  });

  it("within the settle delay of a window's end, still points at that window", () => {
    // 12:05:30: 12:00–12:05 has ended but is not settled until 12:06.
    const now = Date.UTC(2026, 11, 3, 12, 5, 30) / 1000;
    expect(nothingToReportNotice(now, 300, 60)).toContain("reportable at 2026-12-03T12:06:00.000Z");
  });
});

describe("formatReportTable", () => {
  it("prints one aligned row per window with the outcomes that occurred", () => {
    const table = formatReportTable({
      windows: [
        {
          start: "2026-12-03T12:00:00.000Z",
          end: "2026-12-03T12:05:00.000Z",
          accepted: 12,
          outcomes: { not_due: 10, bumped: 2 },
          writeRatio: 0.1667,
          floorRatio: 1,
        },
        {
          start: "2026-12-03T12:05:00.000Z",
          end: "2026-12-03T12:10:00.000Z",
          accepted: 0,
          outcomes: {},
          writeRatio: 0,
          floorRatio: 0,
        },
      ],
    });
    const lines = table.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^window start \(UTC\)\s+end\s+accepted\s+write ratio\s+floor ratio\s+outcomes$/,
    );
    expect(lines[1]).toMatch(
      /^2026-12-03T12:00:00\.000Z\s+2026-12-03T12:05:00\.000Z\s+12\s+0\.1667\s+1\.0000\s+not_due=10 bumped=2$/,
    );
    expect(lines[2]).toMatch(
      /^2026-12-03T12:05:00\.000Z\s+2026-12-03T12:10:00\.000Z\s+0\s+0\.0000\s+0\.0000$/,
    );
    // Aligned: every row's `accepted` cell starts in the same column.
    const column = lines[0]?.indexOf("accepted");
    expect(lines[1]?.slice(column).startsWith("12")).toBe(true);
  });

  it("prints only the header when there are no windows", () => {
    expect(formatReportTable({ windows: [] }).split("\n")).toHaveLength(1);
  });
});
