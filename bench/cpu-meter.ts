/**
 * Who used the machine's CPU during a measured window: this Node process (load generator, handler,
 * SDK and local Data API endpoint all share it), the embedded PostgreSQL (postmaster and every
 * backend, including backends that exited during the window), and everything else on the machine
 * (other processes we do not control). Linux /proc only; elsewhere `null`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const TICKS_PER_SECOND = 100; // USER_HZ; fixed at 100 on Linux for /proc accounting

interface Snapshot {
  at: number;
  nodeSeconds: number;
  mainThreadWaitSeconds: number;
  postgresSeconds: number;
  machineBusySeconds: number;
}

export interface CpuShare {
  /** CPU-seconds per wall-second (1 = one core busy). */
  node: number;
  postgres: number;
  /** Every core's busy time, whoever used it. */
  machine: number;
  /** Busy time of every other process on the machine (a noisy neighbour shows up here). */
  others: number;
  /** Time Node's main thread was ready to run but waiting for a core (scheduler run queue). */
  nodeMainThreadWaitingForCore: number;
  cores: number;
}

/** Fields after the `(comm)` of /proc/<pid>/stat, whose comm may contain spaces. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // the process exited between readdir and read
  }
}

/** `ppid` is field 4 of /proc/<pid>/stat (index 1 after the comm). */
export function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/** CPU-seconds (user + system, 10 ms ticks) one process has used so far. */
export function processCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  if (!fields) throw new Error(`process ${pid} is gone`);
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Nanoseconds one process has run on a CPU so far: the first field of /proc/<pid>/schedstat. */
export function processRunNs(pid: number | string): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
}

function postgresSeconds(postmaster: number): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue;
    // utime, stime are indices 11, 12; cutime, cstime (children already reaped) 13, 14.
    if (Number(entry) === postmaster) {
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } else if (Number(fields[1]) === postmaster) {
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** /proc/<pid>/task/<tid>/schedstat: time on CPU, time waiting on a run queue (ns), slices. */
function mainThreadWaitSeconds(): number {
  try {
    const text = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "utf8");
    return Number(text.split(" ")[1]) / 1e9;
  } catch {
    return Number.NaN; // kernel without schedstats
  }
}

function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = ticks.reduce((sum, value) => sum + value, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0);
  return busy / TICKS_PER_SECOND;
}

export function cpuMeter(postmasterPid: number | undefined, cores: number) {
  if (!postmasterPid || !existsSync("/proc/stat")) return null;
  const snapshot = (): Snapshot => {
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      nodeSeconds: (usage.user + usage.system) / 1e6,
      mainThreadWaitSeconds: mainThreadWaitSeconds(),
      postgresSeconds: postgresSeconds(postmasterPid),
      machineBusySeconds: machineBusySeconds(),
    };
  };
  return {
    start(): () => CpuShare {
      const before = snapshot();
      return () => {
        const after = snapshot();
        const seconds = (after.at - before.at) / 1000;
        const node = (after.nodeSeconds - before.nodeSeconds) / seconds;
        const postgres = (after.postgresSeconds - before.postgresSeconds) / seconds;
        const busy = (after.machineBusySeconds - before.machineBusySeconds) / seconds;
        return {
          node,
          postgres,
          machine: busy,
          others: Math.max(0, busy - node - postgres),
          nodeMainThreadWaitingForCore:
            (after.mainThreadWaitSeconds - before.mainThreadWaitSeconds) / seconds,
          cores,
        };
      };
    },
  };
}

/**
 * CPU time of the PostgreSQL server to the nanosecond: the scheduler's run time
 * (/proc/<pid>/schedstat, first field; PostgreSQL processes are single-threaded) of the postmaster
 * and every process it started. Finer than the 10 ms ticks of /proc/<pid>/stat, so short windows
 * (a few statements) add up without rounding. Counted per process: one that starts in the window
 * counts whole, one that exits in it loses its time in the window (a pool closing an idle
 * connection must not subtract that backend's whole life). Null without schedstats.
 */
export function postgresRuntimeMeter(postmasterPid: number | undefined) {
  if (!postmasterPid || !existsSync(`/proc/${postmasterPid}/schedstat`)) return null;
  const snapshot = (): Map<string, number> => {
    const runtimeNs = new Map<string, number>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      if (Number(entry) !== postmasterPid && Number(statFields(entry)?.[1]) !== postmasterPid) {
        continue;
      }
      try {
        runtimeNs.set(entry, processRunNs(entry));
      } catch {
        // exited between readdir and read
      }
    }
    return runtimeNs;
  };
  return {
    /** Starts a window; the returned function ends it with the CPU-seconds spent in it. */
    start(): () => number {
      const before = snapshot();
      return () => {
        let ns = 0;
        for (const [pid, after] of snapshot()) ns += after - (before.get(pid) ?? 0);
        return ns / 1e9;
      };
    },
  };
}
