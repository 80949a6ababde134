import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import type { CpuShare } from "../cpu-meter.ts";
import { type BenchSettings, type BenchStack, log, type ThroughputWindows } from "../harness.ts";
import { type CpuProfile, type ProfileSummary, summariseProfile } from "../profile-summary.ts";

export type ProfileResult = {
  window: { concurrency: number; perSecond: number; cpu: CpuShare | null };
} & ProfileSummary;

/** 5. Where the Node process spends its time under load: a CPU profile of one window. */
export async function measureProfile(
  stack: BenchStack,
  windows: ThroughputWindows,
  settings: BenchSettings,
): Promise<ProfileResult> {
  const { beatViaHandler } = stack;
  const { calibrate, seedSteadyState, runWindow } = windows;
  log("5/6 profile");
  const profileRate = await calibrate(settings.concurrency, beatViaHandler);
  const profileChats = await seedSteadyState(
    Math.ceil(profileRate * settings.windowSeconds * 1.5),
    profileRate,
    0,
  );
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const profiledWindow = await runWindow(
    profileChats.chats,
    settings.windowSeconds,
    settings.concurrency,
    beatViaHandler,
  );
  const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
  session.disconnect();
  if (settings.cpuProfile) writeFileSync(settings.cpuProfile, JSON.stringify(profile));
  return {
    window: {
      concurrency: settings.concurrency,
      perSecond: profiledWindow.perSecond,
      cpu: profiledWindow.cpu,
    },
    ...summariseProfile(profile),
  };
}
