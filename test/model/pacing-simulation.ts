import fc from "fast-check";
import {
  bumpInterval,
  type HeartbeatState,
  heartbeat,
  type Micros,
  type ModelBuild,
  type ModelWorkspace,
  type Nanos,
  NS_PER_US,
  US_PER_SECOND,
  ZERO_TIME,
} from "./heartbeat-model.ts";

/**
 * docs/heartbeat.md's promise, on the reference model (which the SQL function agrees with to the µs, see
 * heartbeat-property.test.ts): a chat that stays active and always beats at the hinted time keeps
 * at least 0.95·I − 15 s between now and the deadline, unless max_deadline caps it, at every
 * instant from its first beat on.
 *
 * A request that arrives late by d (network, a busy client) leaves the deadline fixed for d longer,
 * so the bound it is held to is 0.95·I − 15 s − d, and only for the instants past the hinted time.
 * No hint can do better: a beat that lands just before the 5 % guard opens gets the 15 s floor,
 * so the next one arrives up to 15 s + d after the opening (d ≤ 2 s in the property). The
 * simulation therefore checks, at every instant t, deadline − t ≥ bound − lateness(t), where
 * lateness(t) = max(0, t − hinted time of the beat on its way); on-time beats get the exact bound.
 *
 * Between two beats the deadline is fixed while time runs, so the tightest instant of an interval
 * is its end: the arrival of the next beat. The check runs there, right after each beat, and at a
 * random instant in between. I is the interval the server used for the hint being followed.
 *
 * Templates use 1 min to 24 h here, as Coder's do in practice.
 */

export const SECOND = US_PER_SECOND;
export const MINUTE = 60n * SECOND;
export const HOUR = 60n * MINUTE;
const toNanos = (us: bigint): Nanos => us * NS_PER_US;
const USER = "00000000-0000-4000-8000-0000000000aa";

const duration = (min: bigint, max: bigint) => fc.bigInt(min, max);

export const scenario = fc.record({
  activityBump: duration(MINUTE, 24n * HOUR),
  allowUserAutostop: fc.boolean(),
  defaultTtl: duration(MINUTE, 24n * HOUR),
  ttl: fc.option(duration(MINUTE, 24n * HOUR), { nil: null }),
  autostart: fc.option(duration(0n, 48n * HOUR), { nil: null }),
  initialDeadline: duration(-10n * MINUTE, 12n * HOUR),
  maxDeadline: fc.option(duration(0n, 48n * HOUR), { nil: null }),
  delays: fc.array(duration(0n, 2n * SECOND), { minLength: 64, maxLength: 64 }),
  betweenFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  hours: fc.integer({ min: 1, max: 30 }),
});

export type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

export interface Violation {
  at: Micros;
  left: Micros;
  required: Micros;
  /** How far past the hinted time the instant was (the bound is lowered by this much). */
  lateness: Micros;
}

export interface SimulationResult {
  violation: Violation | null;
  beats: number;
  /** The least `left − exact bound` seen (negative: a late beat used its lateness allowance). */
  minSlack: Micros | null;
}

/**
 * Runs one active chat beating at the hinted times; returns the first violation, if any.
 * `hintSkew` turns the server into a mutant whose every hint is that much longer (to prove the
 * check can fail).
 */
export function simulate(s: Scenario, hintSkew: Micros = 0n): SimulationResult {
  const start: Micros = 1_800_000_000n * SECOND;
  const workspace: ModelWorkspace = {
    id: "w",
    ownerId: USER,
    deleted: false,
    dormantAt: null,
    lastUsedAt: ZERO_TIME,
    autostartSchedule: s.autostart === null ? null : "CRON_TZ=UTC 0 9 * * 1-5",
    nextStartAt: s.autostart === null ? null : start + s.autostart,
    ttl: s.ttl === null ? null : toNanos(s.ttl),
    template: {
      activityBump: toNanos(s.activityBump),
      allowUserAutostop: s.allowUserAutostop,
      defaultTtl: toNanos(s.defaultTtl),
    },
  };
  const initialDeadline = start + s.initialDeadline;
  const build: ModelBuild = {
    id: "b",
    buildNumber: 1,
    transition: "start",
    jobCompleted: true,
    deadline: initialDeadline,
    // The table's check: max_deadline is zero or at or after the deadline.
    maxDeadline: s.maxDeadline === null ? ZERO_TIME : initialDeadline + s.maxDeadline,
  };
  const capped = build.maxDeadline !== ZERO_TIME;
  const required = (interval: Micros, at: Micros, lateness: Micros): Micros => {
    const bound = (95n * interval) / 100n - 15n * SECOND - lateness;
    return capped && build.maxDeadline - at < bound ? build.maxDeadline - at : bound;
  };

  const end = start + BigInt(s.hours) * HOUR;
  let now = start;
  let beats = 0;
  // The interval the hint being followed was computed with; null until the chat is in the bump
  // regime (the promise is about a deadline the heartbeats keep).
  let followed: Micros | null = null;
  // When the beat on its way was due: instants up to it are held to the exact bound.
  let hintedAt = start;
  let minSlack: Micros | null = null;
  const check = (at: Micros): Violation | null => {
    if (followed === null) return null;
    const left = build.deadline - at;
    const lateness = at > hintedAt ? at - hintedAt : 0n;
    const slack = left - required(followed, at, 0n);
    if (minSlack === null || slack < minSlack) minSlack = slack;
    const need = required(followed, at, lateness);
    return left < need ? { at: at - start, left, required: need, lateness } : null;
  };

  while (now < end && !(capped && now > build.maxDeadline)) {
    const before = check(now);
    if (before) return { violation: before, beats, minSlack };
    const state: HeartbeatState = {
      chat: { ownerId: USER, archived: false, status: "running" },
      workspace,
      builds: [build],
    };
    const result = heartbeat(state, { userId: USER, now });
    if (result === "not_found") throw new Error("the chat exists");
    beats++;
    if (result.writes.build) build.deadline = result.writes.build.deadline;
    if (result.writes.workspace) workspace.lastUsedAt = result.writes.workspace.lastUsedAt;
    followed =
      result.outcome === "bumped" ||
      result.outcome === "not_due" ||
      result.outcome === "at_max_deadline"
        ? bumpInterval(workspace, now).interval
        : null;
    hintedAt = now;
    const after = check(now);
    if (after) return { violation: after, beats, minSlack };

    const hint = BigInt(result.nextHeartbeatSeconds) * SECOND;
    if (hint < 15n * SECOND || hint > 300n * SECOND) {
      throw new Error(
        `hint ${result.nextHeartbeatSeconds} s is outside docs/heartbeat.md's 15..300 s`,
      );
    }
    const delay = s.delays[beats % s.delays.length] as bigint;
    hintedAt = now + hint + hintSkew;
    const arrival = hintedAt + delay;
    const between = now + BigInt(Math.floor(Number(arrival - now) * s.betweenFraction));
    const inBetween = check(between);
    if (inBetween) return { violation: inBetween, beats, minSlack };
    now = arrival;
  }
  return { violation: null, beats, minSlack };
}
