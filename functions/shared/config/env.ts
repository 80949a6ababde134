import * as z from "zod/mini";

/**
 * How the functions read their environment. Each handler parses the part it needs once, at cold
 * start (functions/heartbeat/config.ts, functions/reporter/config.ts), and a bad value stops the
 * container with a message naming the variable. `zod/mini` keeps the validation out of the
 * bundle-size budget (full zod is ~10× larger).
 */

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export type Env = Record<string, string | undefined>;

export function parseEnv<T extends z.ZodMiniType>(schema: T, env: Env): z.output<T> {
  // Empty strings (as serverless.yml writes for unset params) count as unset.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = z.safeParse(schema, cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`,
  );
  throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
}

export const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

export const nonnegativeInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.nonnegative()), fallback);

const DURATION = /^(\d+)([smhd]?)$/;
const DURATION_UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** `86400`, `90s`, `15m`, `24h`, `1d` → seconds; a bare number is seconds. */
function durationToSeconds(text: string): number {
  const match = DURATION.exec(text);
  const unit = (match?.[2] || "s") as keyof typeof DURATION_UNIT_SECONDS;
  return match ? Number(match[1]) * DURATION_UNIT_SECONDS[unit] : Number.NaN;
}

export const positiveDuration = (fallbackSeconds: number) =>
  z._default(
    z.pipe(
      z.string().check(
        z.refine((text) => {
          const seconds = durationToSeconds(text);
          return Number.isSafeInteger(seconds) && seconds > 0;
        }, "must be a positive duration such as 3600, 90m, 24h or 1d"),
      ),
      z.transform(durationToSeconds),
    ),
    fallbackSeconds,
  );

/** Read by both functions: the heartbeat buckets outcome counts by it, the reporter reports them. */
const ReportWindowEnv = z.object({
  /** Outcome counts are bucketed by this length; the reporter reports whole windows of it. */
  REPORT_WINDOW_SECONDS: positiveInt(300),
});

/** REPORT_WINDOW_SECONDS, in seconds. */
export function loadReportWindowSeconds(env: Env): number {
  return parseEnv(ReportWindowEnv, env).REPORT_WINDOW_SECONDS;
}
