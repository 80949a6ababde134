import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_INTERVAL_MS,
  DEFAULT_MIN_INTERVAL_MS,
  type HeartbeatOptions,
  hintedDelay,
  parseHeartbeatResponse,
  parsePollInterval,
  readPaceHint,
  startHeartbeat,
} from "../src/index.ts";
import { apiError, CHAT_ID, heartbeatBody, ok, settle } from "./fakes.ts";
import { BASE_URL, harness } from "./harness.ts";

const START = Date.parse("2026-11-25T10:00:00.000Z");
const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("the hint in a 200", () => {
  it("keeps a positive integer nextHeartbeatSeconds", () => {
    const body = heartbeatBody({ nextHeartbeatSeconds: 180 });
    expect(parseHeartbeatResponse(JSON.stringify(body))).toEqual(body);
  });

  it.each([
    ["a string", "180"],
    ["zero", 0],
    ["a negative number", -30],
    ["a fraction", 12.5],
    ["null", null],
    ["an object", { seconds: 180 }],
  ])("drops %s as nextHeartbeatSeconds without rejecting the body", (_name, value) => {
    const parsed = parseHeartbeatResponse(
      JSON.stringify(heartbeatBody({ nextHeartbeatSeconds: value })),
    );
    expect(parsed).not.toHaveProperty("nextHeartbeatSeconds");
    expect(parsed.outcome).toBe("bumped");
  });

  it("reads X-Poll-Interval as positive integer seconds", () => {
    expect(parsePollInterval("180")).toBe(180);
    expect(parsePollInterval(" 60 ")).toBe(60);
    for (const bad of [null, undefined, "", "0", "-5", "1.5", "60s", "soon", "1e3"]) {
      expect(parsePollInterval(bad)).toBeUndefined();
    }
  });

  it("prefers the body, falls back to the header, and has none without either", () => {
    const response = (overrides: Record<string, unknown> = {}) =>
      parseHeartbeatResponse(JSON.stringify(heartbeatBody(overrides)));
    const header = new Headers({ "X-Poll-Interval": "90" });
    expect(readPaceHint(response({ nextHeartbeatSeconds: 120 }), header)).toEqual({
      seconds: 120,
      source: "body",
    });
    expect(readPaceHint(response(), header)).toEqual({ seconds: 90, source: "header" });
    expect(readPaceHint(response({ nextHeartbeatSeconds: "soon" }), header)).toEqual({
      seconds: 90,
      source: "header",
    });
    expect(readPaceHint(response(), new Headers())).toBeUndefined();
    expect(readPaceHint(response(), new Headers({ "X-Poll-Interval": "0" }))).toBeUndefined();
  });
});

describe("hintedDelay", () => {
  const bounds = fc
    .tuple(fc.integer({ min: 1_000, max: 600_000 }), fc.integer({ min: 1_000, max: 600_000 }))
    .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);

  it("stays within [min, max], never exceeds a hint at or above min, and jitters ≤ 10 % down", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3_600 }),
        bounds,
        draw,
        (hintSeconds, [minMs, maxMs], r) => {
          const hintMs = hintSeconds * 1000;
          const delay = hintedDelay(hintMs, minMs, maxMs, () => r);
          const clamped = Math.min(maxMs, Math.max(minMs, hintMs));
          expect(delay).toBeGreaterThanOrEqual(minMs);
          expect(delay).toBeLessThanOrEqual(maxMs);
          expect(delay).toBeLessThanOrEqual(clamped);
          if (hintMs >= minMs) expect(delay).toBeLessThanOrEqual(hintMs);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(clamped * 0.9));
        },
      ),
    );
  });

  it("is exactly the hint for a draw of 0 and 10 % below it as the draw nears 1", () => {
    expect(hintedDelay(180_000, 15_000, 300_000, () => 0)).toBe(180_000);
    expect(hintedDelay(180_000, 15_000, 300_000, () => 0.5)).toBe(171_000);
    expect(hintedDelay(180_000, 15_000, 300_000, () => 0.999_999)).toBe(162_000);
  });

  it("gives exactly the floor for a hint at or below it", () => {
    expect(hintedDelay(15_000, 15_000, 300_000, () => 0.9)).toBe(15_000);
    expect(hintedDelay(5_000, 15_000, 300_000, () => 0.9)).toBe(15_000);
    // Close above the floor the jitter shrinks rather than crossing it.
    expect(hintedDelay(16_000, 15_000, 300_000, () => 0.999_999)).toBe(15_000);
  });
});

describe("startHeartbeat with a pacing hint", () => {
  it("follows the body's nextHeartbeatSeconds and tells onOutcome and the handle when", async () => {
    const { clock, api, schedules, handle } = harness([ok({ nextHeartbeatSeconds: 180 })], {
      random: () => 0,
    });
    await settle();
    expect(clock.pendingDelays()).toEqual([180_000]);
    expect(schedules[0]).toEqual({
      nextBeatAt: new Date(START + 180_000),
      delayMs: 180_000,
      source: "body",
      hintSeconds: 180,
    });
    expect(handle.nextBeatAt?.toISOString()).toBe("2026-11-25T10:03:00.000Z");
    await clock.advance(179_999);
    expect(api.calls).toHaveLength(1);
    await clock.advance(1);
    expect(api.calls).toHaveLength(2);
    await handle.stop();
    expect(handle.nextBeatAt).toBeNull();
  });

  it("re-reads the hint on every beat", async () => {
    const { clock, handle } = harness(
      [
        ok({ nextHeartbeatSeconds: 180 }),
        ok({ outcome: "chat_idle", nextHeartbeatSeconds: 30 }),
        ok({ outcome: "dormant", nextHeartbeatSeconds: 300 }),
      ],
      { random: () => 0 },
    );
    const delays: (number | undefined)[] = [];
    for (let beat = 0; beat < 3; beat++) delays.push(await clock.runNext());
    expect(delays).toEqual([180_000, 30_000, 300_000]);
    await handle.stop();
  });

  it("clamps the hint to the default [15 s, 5 min]", async () => {
    const { clock, schedules, handle } = harness(
      [ok({ nextHeartbeatSeconds: 5 }), ok({ nextHeartbeatSeconds: 3_600 })],
      { random: () => 0 },
    );
    expect(await clock.runNext()).toBe(DEFAULT_MIN_INTERVAL_MS);
    expect(clock.pendingDelays()).toEqual([DEFAULT_MAX_INTERVAL_MS]);
    expect(schedules.map((schedule) => schedule.hintSeconds)).toEqual([5, 3_600]);
    await handle.stop();
  });

  it("clamps the hint to minIntervalMs/maxIntervalMs", async () => {
    const { clock, handle } = harness(
      [
        ok({ nextHeartbeatSeconds: 30 }),
        ok({ nextHeartbeatSeconds: 90 }),
        ok({ nextHeartbeatSeconds: 300 }),
      ],
      { random: () => 0, minIntervalMs: 60_000, maxIntervalMs: 120_000 },
    );
    const delays: (number | undefined)[] = [];
    for (let beat = 0; beat < 3; beat++) delays.push(await clock.runNext());
    expect(delays).toEqual([60_000, 90_000, 120_000]);
    await handle.stop();
  });

  it("pins the pace when minIntervalMs equals maxIntervalMs", async () => {
    const { clock, handle } = harness(
      [ok({ nextHeartbeatSeconds: 15 }), ok({ nextHeartbeatSeconds: 300 }), ok()],
      { random: () => 0.7, minIntervalMs: 60_000, maxIntervalMs: 60_000 },
    );
    const delays: (number | undefined)[] = [];
    for (let beat = 0; beat < 2; beat++) delays.push(await clock.runNext());
    expect(delays).toEqual([60_000, 60_000]);
    await handle.stop();
  });

  it("reads X-Poll-Interval when the body has no hint", async () => {
    const { clock, schedules, handle } = harness(
      [
        ok({}, { "X-Poll-Interval": "90" }),
        ok({ nextHeartbeatSeconds: "x" }, { "x-poll-interval": "45" }),
      ],
      { random: () => 0 },
    );
    expect(await clock.runNext()).toBe(90_000);
    expect(clock.pendingDelays()).toEqual([45_000]);
    expect(schedules.map((schedule) => [schedule.source, schedule.hintSeconds])).toEqual([
      ["header", 90],
      ["header", 45],
    ]);
    await handle.stop();
  });

  it("prefers the body's hint to the header's", async () => {
    const { clock, schedules, handle } = harness(
      [ok({ nextHeartbeatSeconds: 120 }, { "X-Poll-Interval": "20" })],
      { random: () => 0 },
    );
    await settle();
    expect(clock.pendingDelays()).toEqual([120_000]);
    expect(schedules[0]?.source).toBe("body");
    await handle.stop();
  });

  it("keeps the fixed ±10 % interval, unbounded by min/max, when the server sends no hint", async () => {
    const { clock, schedules, handle } = harness([ok(), ok({}, { "X-Poll-Interval": "0" })], {
      intervalMs: 5_000,
      random: () => 0.99,
    });
    // 5 s is below the default 15 s floor: the floor is for hints, the interval is the user's own.
    expect(await clock.runNext()).toBe(5_490);
    expect(clock.pendingDelays()).toEqual([5_490]);
    expect(schedules[0]).toEqual({
      nextBeatAt: new Date(START + 5_490),
      delayMs: 5_490,
      source: "interval",
      hintSeconds: null,
    });
    expect(schedules[1]?.source).toBe("interval");
    await handle.stop();
  });

  it("never beats later than the hint, whatever the jitter draws", async () => {
    const { clock, handle } = harness([], {
      random: Math.random,
      fetch: async () => ok({ nextHeartbeatSeconds: 120 }),
    });
    const delays: number[] = [];
    for (let beat = 0; beat < 300; beat++) {
      const delay = await clock.runNext();
      if (delay === undefined) throw new Error("no beat scheduled");
      delays.push(delay);
    }
    await handle.stop();
    for (const delay of delays) {
      expect(delay).toBeLessThanOrEqual(120_000);
      expect(delay).toBeGreaterThanOrEqual(108_000);
    }
    // Jitter that never moves is no jitter.
    expect(Math.min(...delays)).toBeLessThan(120_000 * 0.97);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });

  it("counts the hint from when the request was sent, so a slow answer does not make it late", async () => {
    const { clock, api, schedules, handle } = harness(["hang", "hang"], {
      random: () => 0,
      requestTimeoutMs: 120_000,
    });
    await settle();
    await clock.advance(20_000);
    api.release(ok({ nextHeartbeatSeconds: 60 }));
    await settle();
    expect(clock.pendingDelays()).toEqual([40_000]);
    expect(schedules[0]?.nextBeatAt?.toISOString()).toBe("2026-11-25T10:01:00.000Z");
    expect(schedules[0]?.delayMs).toBe(40_000);
    // Slower than the whole hint: the next beat goes at once (still through the timer).
    await clock.runNext();
    expect(api.calls).toHaveLength(2);
    await clock.advance(75_000);
    api.release(ok({ nextHeartbeatSeconds: 60 }));
    await settle();
    expect(clock.pendingDelays()).toEqual([0]);
    await clock.runNext();
    expect(api.calls).toHaveLength(3);
    expect(api.maxInFlight).toBe(1);
    await handle.stop();
  });

  it("still waits a 503's Retry-After, even when that error carries a shorter X-Poll-Interval", async () => {
    const { clock, api, errors, handle } = harness(
      [
        ok({ nextHeartbeatSeconds: 15 }),
        apiError(503, "unavailable", { "Retry-After": "120", "X-Poll-Interval": "15" }),
      ],
      { random: () => 0 },
    );
    expect(await clock.runNext()).toBe(15_000);
    expect(clock.pendingDelays()).toEqual([120_000]);
    expect(errors[0]).toMatchObject({ status: 503, retryInMs: 120_000 });
    expect(handle.nextBeatAt?.toISOString()).toBe("2026-11-25T10:02:15.000Z");
    await clock.advance(119_999);
    expect(api.calls).toHaveLength(2);
    await clock.advance(1);
    expect(api.calls).toHaveLength(3);
    await handle.stop();
  });

  it("backs off on a 429 that only carries X-Poll-Interval", async () => {
    const { clock, handle } = harness([apiError(429, "throttled", { "X-Poll-Interval": "300" })]);
    await settle();
    // random() = 0.5 of the 1 s base: the hint of an error answer is not a pace.
    expect(clock.pendingDelays()).toEqual([500]);
    await handle.stop();
  });

  it("has no next beat with once, and none before the first answer", async () => {
    const { schedules, handle } = harness(["hang"], { once: true });
    expect(handle.nextBeatAt).toBeNull();
    await handle.stop();
    const once = harness([ok({ nextHeartbeatSeconds: 180 })], { once: true });
    expect(await once.handle.stopped).toBe("completed");
    expect(once.schedules[0]).toEqual({
      nextBeatAt: null,
      delayMs: null,
      source: "body",
      hintSeconds: 180,
    });
    expect(once.handle.nextBeatAt).toBeNull();
    expect(schedules).toEqual([]);
  });

  it("rejects invalid bounds", () => {
    const base = { baseUrl: BASE_URL, chatId: CHAT_ID, token: "t", onOutcome: () => {} };
    const start = (options: Partial<HeartbeatOptions>) =>
      startHeartbeat({ ...base, ...options } as HeartbeatOptions);
    expect(() => start({ minIntervalMs: 60_000, maxIntervalMs: 30_000 })).toThrow(
      /minIntervalMs \(60000\) must not exceed maxIntervalMs \(30000\)/,
    );
    // Raising only the floor above the default ceiling is a contradiction too.
    expect(() => start({ minIntervalMs: 10 * 60_000 })).toThrow(RangeError);
    expect(() => start({ minIntervalMs: 0 })).toThrow(RangeError);
    expect(() => start({ maxIntervalMs: Number.NaN })).toThrow(RangeError);
  });
});
