import {
  type BenchSettings,
  type BenchStack,
  log,
  P99_TARGET_MS,
  type ThroughputWindows,
} from "../harness.ts";

export interface SweepPoint {
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface ConcurrencySweepResult {
  windows: SweepPoint[];
  bestWithP99Under50ms: SweepPoint | null;
}

/**
 * 3. Queueing: at a fixed concurrency above what the machine sustains, latency is concurrency /
 * rate. What is the best rate that still keeps p99 under the target?
 */
export async function measureConcurrencySweep(
  stack: BenchStack,
  windows: ThroughputWindows,
  settings: BenchSettings,
  quick: boolean,
): Promise<ConcurrencySweepResult> {
  const { beatViaHandler } = stack;
  const { calibrate, seedSteadyState, runWindow } = windows;
  log("3/6 concurrency sweep");
  const sweep: SweepPoint[] = [];
  for (const concurrency of quick ? [4, 16] : [1, 4, 8, 16, 32]) {
    const rate = await calibrate(concurrency, beatViaHandler);
    const { chats } = await seedSteadyState(
      Math.ceil(rate * settings.windowSeconds * 1.5),
      rate,
      0,
    );
    const window = await runWindow(chats, settings.windowSeconds, concurrency, beatViaHandler);
    sweep.push({
      concurrency,
      perSecond: window.perSecond,
      p50: window.p50,
      p99: window.p99,
      errors: window.errors,
    });
  }
  const bestUnderTarget = sweep
    .filter((point) => point.p99 < P99_TARGET_MS && point.errors === 0)
    .sort((a, b) => b.perSecond - a.perSecond)[0];
  return { windows: sweep, bestWithP99Under50ms: bestUnderTarget ?? null };
}
