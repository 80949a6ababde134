import { HEARTBEAT_OUTCOMES, type HeartbeatOutcome } from "../../shared/outcomes.ts";

/** Seconds since the Unix epoch: the reporter's only notion of time, so no zone can shift it. */
export type EpochSeconds = number;

export interface WindowRange {
  /** First window's start (inclusive) and last window's end (exclusive), multiples of the length. */
  from: EpochSeconds;
  to: EpochSeconds;
}

/** The end of the last window that ended at least `settleSeconds` before `now`. */
export function lastCompleteWindowEnd(
  now: EpochSeconds,
  windowSeconds: number,
  settleSeconds: number,
): EpochSeconds {
  return Math.floor((now - settleSeconds) / windowSeconds) * windowSeconds;
}

/**
 * The window that completes next after `now` (the one after the last complete window), and when a
 * run can first report it: its end plus the settle delay.
 */
export function nextReportableWindow(
  now: EpochSeconds,
  windowSeconds: number,
  settleSeconds: number,
): { start: EpochSeconds; end: EpochSeconds; reportableAt: EpochSeconds } {
  const start = lastCompleteWindowEnd(now, windowSeconds, settleSeconds);
  const end = start + windowSeconds;
  return { start, end, reportableAt: end + settleSeconds };
}

/**
 * The complete windows this run reports: from the watermark (or, on the first run, the earliest
 * counted window) up to the last window that ended at least `settleSeconds` ago, at most
 * `maxWindows` of them — the rest are the next run's. Null when nothing new is complete.
 */
export function windowsToReport(input: {
  reportedUntil: EpochSeconds | null;
  earliestCount: EpochSeconds | null;
  now: EpochSeconds;
  windowSeconds: number;
  settleSeconds: number;
  maxWindows: number;
}): WindowRange | null {
  const w = input.windowSeconds;
  // A watermark off the grid (the window length changed) resumes at the next boundary.
  const start =
    input.reportedUntil !== null
      ? Math.ceil(input.reportedUntil / w) * w
      : input.earliestCount !== null
        ? Math.floor(input.earliestCount / w) * w
        : null;
  if (start === null) return null;
  const lastCompleteEnd = lastCompleteWindowEnd(input.now, w, input.settleSeconds);
  const to = Math.min(lastCompleteEnd, start + input.maxWindows * w);
  return to > start ? { from: start, to } : null;
}

export interface WindowCount {
  windowStart: EpochSeconds;
  outcome: HeartbeatOutcome;
  heartbeats: number;
}

export interface ReportWindow {
  start: string;
  end: string;
  accepted: number;
  /** Only outcomes that occurred (docs/reporter.md). */
  outcomes: Partial<Record<HeartbeatOutcome, number>>;
  /** bumped / accepted: the share of heartbeats that wrote a deadline. */
  writeRatio: number;
  /**
   * Of the heartbeats that could write (bumped + not_due), the share that did, relative to the
   * best the clients can reach (`floorWriteRatio`): 1 means no request came earlier than needed.
   */
  floorRatio: number;
}

export interface Report {
  windows: ReportWindow[];
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;
const iso = (epoch: EpochSeconds) => new Date(epoch * 1000).toISOString();

/**
 * The best share of bump-eligible heartbeats that can write. The 5 % guard allows one build write
 * per 0.05 × bump per workspace, so a client beating every T seconds writes on T / (0.05 × bump) of
 * its beats (1 in 6 at 30 s and 1 h), and a client that beats no earlier than the pacing hint says
 * writes on every one: 1. `heartbeatIntervalSeconds` null means clients follow the hint.
 */
export function floorWriteRatio(
  heartbeatIntervalSeconds: number | null,
  activityBumpSeconds: number,
): number {
  if (heartbeatIntervalSeconds === null) return 1;
  return Math.min(1, heartbeatIntervalSeconds / (0.05 * activityBumpSeconds));
}

/**
 * One report window per window in the range that had heartbeats. Windows without any are left
 * out (an idle night is not 96 empty lines); the watermark still moves past them.
 */
export function buildReport(
  counts: WindowCount[],
  range: WindowRange,
  options: { windowSeconds: number; floorWriteRatio: number },
): Report {
  const byWindow = new Map<EpochSeconds, Partial<Record<HeartbeatOutcome, number>>>();
  for (const count of counts) {
    if (count.windowStart < range.from || count.windowStart >= range.to) {
      throw new Error(
        `count for window ${count.windowStart} is outside [${range.from}, ${range.to})`,
      );
    }
    const outcomes = byWindow.get(count.windowStart) ?? {};
    outcomes[count.outcome] = (outcomes[count.outcome] ?? 0) + count.heartbeats;
    byWindow.set(count.windowStart, outcomes);
  }
  const windows = [...byWindow.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, counted]): ReportWindow => {
      const outcomes: Partial<Record<HeartbeatOutcome, number>> = {};
      for (const outcome of HEARTBEAT_OUTCOMES) {
        const value = counted[outcome];
        if (value) outcomes[outcome] = value;
      }
      const accepted = Object.values(outcomes).reduce((sum, value) => sum + value, 0);
      const bumped = outcomes.bumped ?? 0;
      const writeRatio = accepted > 0 ? bumped / accepted : 0;
      const eligible = bumped + (outcomes.not_due ?? 0);
      const eligibleWriteRatio = eligible > 0 ? bumped / eligible : 0;
      return {
        start: iso(start),
        end: iso(start + options.windowSeconds),
        accepted,
        outcomes,
        writeRatio: round4(writeRatio),
        floorRatio: round4(eligibleWriteRatio / options.floorWriteRatio),
      };
    })
    .filter((window) => window.accepted > 0);
  return { windows };
}
