import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HOUR, MINUTE, SECOND, scenario, simulate } from "./pacing-simulation.ts";

/** A chat on Coder's default template: 1 h bump, 8 h TTL, no autostart, due in 30 min. */
const defaultChat = {
  activityBump: HOUR,
  allowUserAutostop: true,
  defaultTtl: 8n * HOUR,
  ttl: 8n * HOUR,
  autostart: null,
  initialDeadline: 30n * MINUTE,
  maxDeadline: null,
  betweenFraction: 0.5,
};

describe("pacing keeps the docs/heartbeat.md promise (reference model)", () => {
  // KNOWN GAP (open in issue 12): the property finds chats that drop below the bound, e.g. a 5 h
  // bump (18000.00006 s) with 1 µs delays, where 300 s hints straddle the guard opening. `it.fails`
  // records the finding; make it `it` once the hint (or the documented bound) is corrected.
  it.fails("a chat beating at the hinted times, up to 2 s late, never has less than 0.95·I − 15 s left", () => {
    let totalBeats = 0;
    let totalHours = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const { violation, beats } = simulate(s);
        totalBeats += beats;
        totalHours += s.hours;
        expect(
          violation,
          JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? `${v}` : v)),
        ).toBeNull();
      }),
      { numRuns: 400 },
    );
    // Sanity: the chats really beat, and far less often than every 30 s.
    expect(totalBeats).toBeGreaterThan(totalHours);
    expect(totalBeats / totalHours).toBeLessThan(120);
  });

  it("a default template (1 h bump) paces at about 20 beats an hour, each bumping", () => {
    const { violation, beats } = simulate({
      ...defaultChat,
      delays: Array(64).fill(SECOND / 2n),
      hours: 10,
    });
    expect(violation).toBeNull();
    // 3 min (0.05 h) between bumps, plus the delay: 20 beats an hour, never more than 21.
    expect(beats).toBeGreaterThanOrEqual(190);
    expect(beats).toBeLessThanOrEqual(210);
  });

  it("would catch a client that beats late: the same chat, 30 s after each hint, violates the bound", () => {
    const { violation } = simulate({
      ...defaultChat,
      delays: Array(64).fill(30n * SECOND),
      hours: 2,
    });
    expect(violation).not.toBeNull();
  });
});
