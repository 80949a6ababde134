import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cost, heartbeatMemoryMb, loadPrices, type Prices } from "../../bench/prices.ts";

const PRICES = new URL("../../bench/prices.json", import.meta.url).pathname;

describe("bench/prices.json", () => {
  it("names its region, date and a source for every rate", () => {
    const prices = loadPrices(PRICES);
    expect(prices.region).toBe("us-east-1");
    expect(prices.lookedUp).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const rate of [
      prices.apiGatewayHttpApiPerMillionRequests,
      prices.lambdaArm64PerGbSecond,
      prices.lambdaPerMillionRequests,
      prices.dataApiPerMillionRequests,
      prices.auroraServerlessV2PerAcuHour,
      prices.acuPerVcpu,
    ]) {
      expect(rate.sources.length).toBeGreaterThan(0);
    }
  });
});

describe("cost per chat-hours", () => {
  const prices = loadPrices(PRICES);
  const rate = (price: number) => ({ price, tier: "t", sources: ["https://example.test/"] });
  const round: Prices = {
    ...prices,
    apiGatewayHttpApiPerMillionRequests: rate(1),
    lambdaPerMillionRequests: rate(0.2),
    lambdaArm64PerGbSecond: rate(0.00001),
    dataApiPerMillionRequests: rate(0.35),
    auroraServerlessV2PerAcuHour: rate(0.12),
    acuPerVcpu: { ...prices.acuPerVcpu, value: 4 },
  };

  it("prices each part from the measured counts", () => {
    // 20 requests of 10 ms billed each at 512 MB, 20 Data API calls, 0.9 s of PostgreSQL CPU.
    const c = cost(
      { requests: 20, billedLambdaMs: 200, dataApiCalls: 20, postgresCpuSeconds: 0.9 },
      round,
      512,
      1_000_000,
    );
    expect(c.apiGateway).toBeCloseTo(20, 9); // 20 M requests at $1/M
    expect(c.lambdaRequests).toBeCloseTo(4, 9);
    expect(c.lambdaDuration).toBeCloseTo(0.2 * 0.5 * 1e6 * 0.00001, 9); // 100,000 GB-s
    expect(c.dataApi).toBeCloseTo(7, 9);
    expect(c.aurora).toBeCloseTo(((0.9 * 4 * 1e6) / 3600) * 0.12, 9); // 1,000 ACU-hours
    expect(c.total).toBeCloseTo(
      c.apiGateway + c.lambdaRequests + c.lambdaDuration + c.dataApi + c.aurora,
      9,
    );
  });
});

describe("heartbeat memory from serverless.yml", () => {
  // serverless.yml with a provider memorySize of 256, a reporter of 1024 and the heartbeat's own.
  const yml = (heartbeatMemory: string[]) =>
    [
      "provider:",
      "  memorySize: 256",
      "functions:",
      "  heartbeat:",
      "    handler: h",
      ...heartbeatMemory,
      "  reporter:",
      "    memorySize: 1024",
    ].join("\n");

  it.each([
    {
      when: "takes the heartbeat function's memorySize over the provider's",
      own: ["    memorySize: 512"],
      mb: 512,
    },
    { when: "falls back to the provider's when the function sets none", own: [], mb: 256 },
  ])("$when", ({ own, mb }) => {
    expect(heartbeatMemoryMb(yml(own))).toBe(mb);
  });

  it("reads the project's file", () => {
    const yml = readFileSync(new URL("../../serverless.yml", import.meta.url), "utf8");
    expect(heartbeatMemoryMb(yml)).toBeGreaterThanOrEqual(128);
  });
});
