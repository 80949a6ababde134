import {
  type EpochSeconds,
  nextReportableWindow,
  type Report,
} from "../../functions/reporter/domain/windows.ts";
import { HEARTBEAT_OUTCOMES } from "../../functions/shared/outcomes.ts";

/** How `npm run report` prints a report: `json` (default, parseable) or `table` (for people). */
export const REPORT_FORMATS = ["json", "table"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const HEADER = ["window start (UTC)", "end", "accepted", "write ratio", "floor ratio", "outcomes"];

/**
 * One row per window: start, end, accepted, write and floor ratio, then each outcome that occurred
 * as `name=count`, in the order the statement decides them. Columns padded to their widest cell.
 */
export function formatReportTable(report: Report): string {
  const rows = report.windows.map((window) => [
    window.start,
    window.end,
    String(window.accepted),
    window.writeRatio.toFixed(4),
    window.floorRatio.toFixed(4),
    HEARTBEAT_OUTCOMES.filter((outcome) => window.outcomes[outcome] !== undefined)
      .map((outcome) => `${outcome}=${window.outcomes[outcome]}`)
      .join(" "),
  ]);
  const table = [HEADER, ...rows];
  const widths = HEADER.map((_, column) =>
    Math.max(...table.map((row) => (row[column] as string).length)),
  );
  return table
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const iso = (epoch: EpochSeconds) => new Date(epoch * 1000).toISOString();

/**
 * What `npm run report` says on stderr when there is nothing to report: which window completes next
 * and when a run can report it (window end + settle delay, as the reporter decides).
 */
export function nothingToReportNotice(
  now: EpochSeconds,
  windowSeconds: number,
  settleSeconds: number,
): string {
  const next = nextReportableWindow(now, windowSeconds, settleSeconds);
  const wait = Math.max(0, Math.ceil(next.reportableAt - now));
  return (
    `Nothing to report yet. The next window, ${iso(next.start)} to ${iso(next.end)}, becomes ` +
    `reportable at ${iso(next.reportableAt)} (its end + ${settleSeconds} s settle delay; ` +
    `${windowSeconds} s windows), in ${wait} s: run \`npm run report\` again then.`
  );
}
