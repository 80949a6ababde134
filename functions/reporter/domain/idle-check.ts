/**
 * Should this reporter run touch the database at all? On an idle deployment every run would wake a
 * paused Aurora cluster for nothing, so a run first asks CloudWatch whether anything happened that
 * could still be unreported. Skipping never moves the watermark: whatever a skipped run did not look
 * at is reported by the next run that does, so a wrong "idle" can delay a window, never lose it.
 */

/** What the metrics say about the lookback; declared here, implemented by the CloudWatch adapter. */
export interface Activity {
  /**
   * Heartbeats that may have been counted: accepted ones (`heartbeat_<outcome>`), plus the 500/503
   * answers, after which the statement may still have committed.
   */
  heartbeats: number;
  /** Reporter runs that reached the database and left windows behind (failed, or hit the cap). */
  incompleteRuns: number;
  /** False when CloudWatch answered only in part: then a zero proves nothing. */
  complete: boolean;
}

export interface ActivitySource {
  /** Sums over [from, to); throws when CloudWatch cannot answer (error, throttling, no permission). */
  activityBetween(from: Date, to: Date): Promise<Activity>;
}

export interface IdleCheckSettings {
  /** The schedule's period: the regular gap between two runs. */
  schedulePeriodSeconds: number;
  windowSeconds: number;
  settleSeconds: number;
  /**
   * Covers how late a run can start (EventBridge, Lambda's async queue) plus how much later than
   * `window + settle` an EMF data point can land in CloudWatch; the default 300 s allows 2 min of
   * lateness and data points up to 9 min late at the deployed 5 min windows.
   */
  marginSeconds: number;
}

/**
 * How far back a run must look. A run that reaches the database reports every window up to the last
 * settled one, so what it leaves unreported was accepted at most `window + settle` before it; a run
 * that skips saw nothing but data points that had not landed yet, so what it leaves was accepted at
 * most `delay` before it. The next run comes one period (+ lateness) later. So everything a run could
 * have to report was accepted within `period + lateness + max(window + settle, delay)` of it:
 * `period + window + settle + margin` with a margin ≥ lateness + (delay − window − settle)⁺.
 * Runs that failed or stopped at the cap leave a data point of their own instead (incompleteRuns),
 * so their backlog never depends on the lookback. test/unit/reporter/idle-check.test.ts checks this
 * against a model with late runs, late data points, failures and the cap.
 */
export function idleLookbackSeconds(settings: IdleCheckSettings): number {
  return (
    settings.schedulePeriodSeconds +
    settings.windowSeconds +
    settings.settleSeconds +
    settings.marginSeconds
  );
}

/** Skip only on a complete answer that shows no heartbeat and no run that left work behind. */
export function isIdle(activity: Activity): boolean {
  return activity.complete && activity.heartbeats === 0 && activity.incompleteRuns === 0;
}

export type IdleCheck =
  | { skip: true; from: Date; to: Date }
  | { skip: false; because: "activity" | "partial-answer"; activity: Activity }
  | { skip: false; because: "no-answer"; error: unknown };

/** One question to CloudWatch; any failure to answer means "report from the database, as before". */
export async function checkIdle(
  source: ActivitySource,
  settings: IdleCheckSettings,
  now: Date,
): Promise<IdleCheck> {
  const to = now;
  const from = new Date(now.getTime() - idleLookbackSeconds(settings) * 1000);
  let activity: Activity;
  try {
    activity = await source.activityBetween(from, to);
  } catch (error) {
    return { skip: false, because: "no-answer", error };
  }
  if (isIdle(activity)) return { skip: true, from, to };
  return { skip: false, because: activity.complete ? "activity" : "partial-answer", activity };
}
