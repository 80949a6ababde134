import { describe, expect, it } from "vitest";
import { loadReporterConfig, rateExpressionSeconds } from "../../../functions/reporter/config.ts";
import { ConfigError } from "../../../functions/shared/config/env.ts";

const DATABASE = {
  DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:unit",
  DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:unit",
  DB_NAME: "unit",
};

describe("the reporter's idle-check configuration", () => {
  it("is off unless REPORT_SKIP_IDLE is true (local: no CloudWatch)", () => {
    expect(loadReporterConfig(DATABASE).idleCheck).toBeNull();
    // serverless.yml writes unset params as empty strings.
    expect(loadReporterConfig({ ...DATABASE, REPORT_SKIP_IDLE: "" }).idleCheck).toBeNull();
    expect(
      loadReporterConfig({
        ...DATABASE,
        REPORT_SKIP_IDLE: "false",
        REPORT_SCHEDULE: "rate(60 minutes)",
      }).idleCheck,
    ).toBeNull();
  });

  it("takes the period from the schedule's rate expression, with a 300 s default margin", () => {
    expect(
      loadReporterConfig({
        ...DATABASE,
        REPORT_SKIP_IDLE: "true",
        REPORT_SCHEDULE: "rate(60 minutes)",
      }).idleCheck,
    ).toEqual({ schedulePeriodSeconds: 3600, marginSeconds: 300 });
    expect(
      loadReporterConfig({
        ...DATABASE,
        REPORT_SKIP_IDLE: "true",
        REPORT_SCHEDULE: "rate(2 hours)",
        REPORT_IDLE_MARGIN_SECONDS: "0",
      }).idleCheck,
    ).toEqual({ schedulePeriodSeconds: 7200, marginSeconds: 0 });
  });

  it("refuses to check without a rate schedule, and names the variable", () => {
    for (const schedule of [undefined, "cron(0 * * * ? *)", "rate(0 minutes)", "hourly"]) {
      expect(() =>
        loadReporterConfig({ ...DATABASE, REPORT_SKIP_IDLE: "true", REPORT_SCHEDULE: schedule }),
      ).toThrow(
        new ConfigError(
          "Invalid configuration: REPORT_SCHEDULE must be a rate(...) expression when REPORT_SKIP_IDLE is true",
        ),
      );
    }
    expect(() => loadReporterConfig({ ...DATABASE, REPORT_SKIP_IDLE: "yes" })).toThrow(
      /REPORT_SKIP_IDLE/,
    );
    expect(() =>
      loadReporterConfig({
        ...DATABASE,
        REPORT_SKIP_IDLE: "true",
        REPORT_SCHEDULE: "rate(1 hour)",
        REPORT_IDLE_MARGIN_SECONDS: "-1",
      }),
    ).toThrow(/REPORT_IDLE_MARGIN_SECONDS/);
  });
});

describe("rateExpressionSeconds", () => {
  it("reads EventBridge rate expressions and nothing else", () => {
    expect(rateExpressionSeconds("rate(1 minute)")).toBe(60);
    expect(rateExpressionSeconds("rate(15 minutes)")).toBe(900);
    expect(rateExpressionSeconds("rate(1 hour)")).toBe(3600);
    expect(rateExpressionSeconds("rate(3 hours)")).toBe(10_800);
    expect(rateExpressionSeconds("rate(1 day)")).toBe(86_400);
    expect(rateExpressionSeconds("rate(5 fortnights)")).toBeNull();
    expect(rateExpressionSeconds("rate(-5 minutes)")).toBeNull();
    expect(rateExpressionSeconds("cron(0/5 * * * ? *)")).toBeNull();
  });
});

describe("the reporter's client-interval assumption", () => {
  it("assumes clients follow the pacing hint unless REPORT_HEARTBEAT_INTERVAL_SECONDS is set", () => {
    expect(loadReporterConfig(DATABASE).heartbeatIntervalSeconds).toBeNull();
    expect(
      loadReporterConfig({ ...DATABASE, REPORT_HEARTBEAT_INTERVAL_SECONDS: "30" })
        .heartbeatIntervalSeconds,
    ).toBe(30);
    expect(() =>
      loadReporterConfig({ ...DATABASE, REPORT_HEARTBEAT_INTERVAL_SECONDS: "0" }),
    ).toThrow(/REPORT_HEARTBEAT_INTERVAL_SECONDS/);
  });
});
