import { z } from "zod/mini";
import { DataApiError, STATEMENT_TIMEOUT_MESSAGE } from "./protocol.ts";

/**
 * Local-only fault injection: data calls fail the way the service fails them, before anything
 * reaches the database. A resume lasts a number of seconds of wall-clock time, as on Aurora; the
 * other faults meet the next N calls.
 */

export const FAULT_KINDS = [
  "resuming",
  "throttling",
  "timeout",
  "connection_reset",
  "sql_error",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FaultRequest = z
  .object({
    kind: z.enum(FAULT_KINDS),
    /** Every kind but `resuming`: how many calls meet it (default 1). */
    count: z.optional(z.number().check(z.int(), z.positive())),
    /** `resuming` only: how long the resume lasts, from the first call that meets it. */
    seconds: z.optional(z.number().check(z.positive(), z.lte(3600))),
  })
  .check(
    z.refine(
      (fault) => (fault.kind === "resuming") === (fault.seconds !== undefined),
      "`seconds` (how long the resume lasts) is required for resuming and only for resuming",
    ),
    z.refine(
      (fault) => fault.kind !== "resuming" || fault.count === undefined,
      "resuming lasts `seconds` of wall-clock time, not a `count` of calls",
    ),
  );
export type FaultRequest = z.output<typeof FaultRequest>;

export interface Faults {
  /**
   * `{ kind: "resuming", seconds }`: the cluster is paused; the first data call after this starts
   * its resume, and every call for `seconds` from then answers DatabaseResumingException.
   * `{ kind, count }` (any other kind): the next `count` data calls (default 1) meet the fault.
   */
  inject(fault: { kind: FaultKind; count?: number; seconds?: number }): void;
  clear(): void;
}

/** What a call meets instead of the database. */
export type FaultOutcome = { reset: true } | { reset: false; error: DataApiError };

export function faultOutcome(kind: FaultKind, clusterId: string): FaultOutcome {
  switch (kind) {
    case "resuming":
      // Aurora Serverless v2 waking from 0 ACU; the call did not run.
      // https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
      return {
        reset: false,
        error: new DataApiError(
          "DatabaseResumingException",
          `The Aurora DB instance ${clusterId}-instance-1 is resuming after being auto-paused. Please wait a few seconds and try again.`,
        ),
      };
    case "throttling":
      return { reset: false, error: new DataApiError("ThrottlingException", "Rate exceeded") };
    case "timeout":
      // What the service answers when a call outlives its 45 s; unlike AWS, nothing ran here.
      return {
        reset: false,
        error: new DataApiError("StatementTimeoutException", STATEMENT_TIMEOUT_MESSAGE, {
          dbConnectionId: 0,
        }),
      };
    case "sql_error":
      return {
        reset: false,
        error: new DataApiError(
          "DatabaseErrorException",
          "ERROR: injected SQL error (local Data API fault injection); SQLState: XX000",
        ),
      };
    case "connection_reset":
      return { reset: true };
  }
}

/** Injected faults: a resume (by time), then a queue of faults consumed one per data call. */
export class FaultQueue implements Faults {
  private readonly pending: { kind: FaultKind; remaining: number }[] = [];
  /** A resume of `ms`; `until` is set by the first call that meets it. */
  private resume: { ms: number; until?: number } | undefined;

  inject(fault: { kind: FaultKind; count?: number; seconds?: number }): void {
    const parsed = FaultRequest.parse(fault);
    if (parsed.kind === "resuming") {
      this.resume = { ms: (parsed.seconds ?? 0) * 1000 };
      return;
    }
    this.pending.push({ kind: parsed.kind, remaining: parsed.count ?? 1 });
  }

  clear(): void {
    this.pending.length = 0;
    this.resume = undefined;
  }

  /** The fault this call meets, if any. */
  take(now = Date.now()): FaultKind | undefined {
    if (this.resume) {
      this.resume.until ??= now + this.resume.ms;
      if (now < this.resume.until) return "resuming";
      this.resume = undefined;
    }
    const next = this.pending[0];
    if (!next) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.pending.shift();
    return next.kind;
  }
}
