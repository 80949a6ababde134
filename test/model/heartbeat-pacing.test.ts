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
  const show = (s: unknown) => JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? `${v}` : v));

  it("a chat beating at the hinted times, up to 2 s late, keeps 0.95·I − 15 s minus its lateness", () => {
    let totalBeats = 0;
    let totalHours = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const { violation, beats } = simulate(s);
        totalBeats += beats;
        totalHours += s.hours;
        expect(violation, show(s)).toBeNull();
      }),
      { numRuns: 400 },
    );
    // Sanity: the chats really beat, and far less often than every 30 s.
    expect(totalBeats).toBeGreaterThan(totalHours);
    expect(totalBeats / totalHours).toBeLessThan(120);
  });

  it("a chat beating exactly on time keeps the exact bound, 0.95·I − 15 s, at every instant", () => {
    const onTime = scenario.map((s) => ({ ...s, delays: [0n] }));
    fc.assert(
      fc.property(onTime, (s) => {
        const { violation, minSlack } = simulate(s);
        expect(violation, show(s)).toBeNull();
        if (minSlack !== null) expect(minSlack).toBeGreaterThanOrEqual(0n);
      }),
      { numRuns: 400 },
    );
  });

  it("needs the lateness allowance, no more: a late beat that lands just before the guard opens", () => {
    // 5 h bump, no cap: the guard opens 906 s + 1 µs after the first beat. 300 s hints (the cap),
    // each 2 s late, arrive at 302, 604 and 906 s: not due yet, so the hint is the 15 s floor and
    // the bumping beat arrives at 923 s, with 0.95·I − 17 s + 1 µs left.
    const bump = 5n * HOUR;
    const { violation, minSlack } = simulate({
      ...defaultChat,
      activityBump: bump,
      initialDeadline: (95n * bump) / 100n + 906n * SECOND + 1n,
      delays: [2n * SECOND],
      hours: 1,
    });
    expect(violation).toBeNull();
    expect(minSlack).toBe(-2n * SECOND + 1n);
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

  it("would catch a server whose hints are 20 s too long", () => {
    const { violation } = simulate({ ...defaultChat, delays: [0n], hours: 2 }, 20n * SECOND);
    expect(violation).not.toBeNull();
  });
});
