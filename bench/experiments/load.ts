import { setTimeout as sleep } from "node:timers/promises";
import {
  type BenchSettings,
  type BenchStack,
  cpuMsPerHeartbeat,
  log,
  ms,
  perHeartbeat,
  STATS_SETTLE_MS,
  type ThroughputWindows,
  type Window,
} from "../harness.ts";

export interface LoadRun extends Window {
  chats: number;
  concurrency: number;
  seedLateMs: number;
  dataApiCallsPerHeartbeat: number;
  buildWrites: number;
  workspaceWrites: number;
  buildWritesPerHeartbeat: number;
  workspaceWritesPerHeartbeat: number;
  walBytesPerHeartbeat: number;
  nodeCpuMsPerHeartbeat: number | null;
  postgresCpuMsPerHeartbeat: number | null;
}

/** 2. load: 10 k / 100 k chats, each heartbeating once in the window, through the handler. */
export async function measureLoad(
  stack: BenchStack,
  windows: ThroughputWindows,
  settings: BenchSettings,
): Promise<LoadRun[]> {
  const { beatViaHandler } = stack;
  const { calibrate, seedSteadyState, databaseCounters, runWindow, walBytes } = windows;
  log("2/6 load");
  const loadRuns: LoadRun[] = [];
  for (const size of settings.chats) {
    const rate = await calibrate(settings.concurrency, beatViaHandler);
    // The stats of the calibration's backends settle while we seed (inserts only: no n_tup_upd).
    const seeded = await seedSteadyState(size, rate, STATS_SETTLE_MS);
    const before = await databaseCounters();
    const window = await runWindow(
      seeded.chats,
      settings.loadSeconds,
      settings.concurrency,
      beatViaHandler,
    );
    await sleep(STATS_SETTLE_MS);
    const after = await databaseCounters();
    const buildWrites = after.builds - before.builds;
    const workspaceWrites = after.workspaces - before.workspaces;
    loadRuns.push({
      chats: size,
      concurrency: settings.concurrency,
      ...window,
      seedLateMs: seeded.lateMs,
      dataApiCallsPerHeartbeat: perHeartbeat(
        after.dataApiCalls - before.dataApiCalls,
        window.heartbeats,
      ),
      buildWrites,
      workspaceWrites,
      buildWritesPerHeartbeat: perHeartbeat(buildWrites, window.heartbeats),
      workspaceWritesPerHeartbeat: perHeartbeat(workspaceWrites, window.heartbeats),
      walBytesPerHeartbeat: Math.round(
        (await walBytes(before.lsn, after.lsn)) / Math.max(window.heartbeats, 1),
      ),
      nodeCpuMsPerHeartbeat: cpuMsPerHeartbeat(window.cpu?.node, window),
      postgresCpuMsPerHeartbeat: cpuMsPerHeartbeat(window.cpu?.postgres, window),
    });
    log(`  ${size} chats: ${window.perSecond} hb/s, p99 ${ms(window.p99)} ms`);
  }
  return loadRuns;
}
