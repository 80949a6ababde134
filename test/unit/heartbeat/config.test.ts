import { describe, expect, it } from "vitest";
import { loadHeartbeatConfig } from "../../../functions/heartbeat/config.ts";
import { ConfigError } from "../../../functions/shared/config/env.ts";

const BASE = {
  DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:unit",
  DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:unit",
  DB_NAME: "unit",
  CHAT_TOKEN_SECRET: "unit-test-shared-secret-of-at-least-32-bytes",
};

const load = (env: Record<string, string | undefined>) => loadHeartbeatConfig({ ...BASE, ...env });

describe("CHAT_TOKEN_SECRET", () => {
  it("must be at least 32 bytes (docs/token.md), counted in bytes, naming the variable", () => {
    expect(() => load({ CHAT_TOKEN_SECRET: "x".repeat(31) })).toThrow(ConfigError);
    expect(() => load({ CHAT_TOKEN_SECRET: "x".repeat(31) })).toThrow(/CHAT_TOKEN_SECRET/);
    expect(() => load({ CHAT_TOKEN_SECRET: "é".repeat(15) })).toThrow(/at least 32 bytes/);
    expect(load({ CHAT_TOKEN_SECRET: "x".repeat(32) }).token.key).toEqual({
      kind: "shared-secret",
      secret: "x".repeat(32),
    });
    expect(load({ CHAT_TOKEN_SECRET: "é".repeat(16) }).token.key.kind).toBe("shared-secret");
  });
});

describe("CHAT_TOKEN_MAX_LIFETIME", () => {
  it("defaults to 24 h, also when empty (as serverless.yml passes an unset param)", () => {
    expect(load({}).token.maxLifetimeSeconds).toBe(86_400);
    expect(load({ CHAT_TOKEN_MAX_LIFETIME: "" }).token.maxLifetimeSeconds).toBe(86_400);
  });

  it.each([
    ["3600", 3_600],
    ["90s", 90],
    ["15m", 900],
    ["12h", 43_200],
    ["7d", 604_800],
  ])("reads %s as %i seconds", (value, seconds) => {
    expect(load({ CHAT_TOKEN_MAX_LIFETIME: value }).token.maxLifetimeSeconds).toBe(seconds);
  });

  it.each(["0", "0h", "-1", "1.5h", "24 h", " 24h", "24H", "1w", "forever", "9".repeat(30)])(
    "refuses %j, naming the variable",
    (value) => {
      expect(() => load({ CHAT_TOKEN_MAX_LIFETIME: value })).toThrow(ConfigError);
      expect(() => load({ CHAT_TOKEN_MAX_LIFETIME: value })).toThrow(/CHAT_TOKEN_MAX_LIFETIME/);
    },
  );
});

describe("CHAT_TOKEN_TYPE", () => {
  it("is off by default and when empty", () => {
    expect(load({}).token.type).toBeUndefined();
    expect(load({ CHAT_TOKEN_TYPE: "" }).token.type).toBeUndefined();
  });

  it("is passed on as given", () => {
    expect(load({ CHAT_TOKEN_TYPE: "at+jwt" }).token.type).toBe("at+jwt");
  });

  it.each(["at jwt", " at+jwt", "at+jwt\n", "ät+jwt"])(
    "refuses %j, naming the variable",
    (value) => {
      expect(() => load({ CHAT_TOKEN_TYPE: value })).toThrow(/CHAT_TOKEN_TYPE/);
    },
  );
});
