import { z } from "zod/mini";
import { DataApiError, STATEMENT_TIMEOUT_MESSAGE } from "./protocol.ts";

/**
 * Local-only fault injection: the next N data calls fail the way the service fails them, before
 * anything reaches the database.
 */

export const FAULT_KINDS = [
  "resuming",
  "throttling",
  "timeout",
  "connection_reset",
  "sql_error",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FaultRequest = z.object({
  kind: z.enum(FAULT_KINDS),
  count: z.optional(z.number().check(z.int(), z.positive())),
});
export type FaultRequest = z.output<typeof FaultRequest>;

export interface Faults {
  inject(fault: { kind: FaultKind; count?: number }): void;
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

/** A queue of injected faults, consumed one per data call. */
export class FaultQueue implements Faults {
  private readonly pending: { kind: FaultKind; remaining: number }[] = [];

  inject(fault: { kind: FaultKind; count?: number }): void {
    const parsed = FaultRequest.parse(fault);
    this.pending.push({ kind: parsed.kind, remaining: parsed.count ?? 1 });
  }

  clear(): void {
    this.pending.length = 0;
  }

  /** The fault this call meets, if any. */
  take(): FaultKind | undefined {
    const next = this.pending[0];
    if (!next) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.pending.shift();
    return next.kind;
  }
}
