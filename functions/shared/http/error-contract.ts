import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { ParseError } from "@aws-lambda-powertools/parser";
import type { MiddlewareObj } from "@middy/core";
import { createError } from "@middy/util";
import type { Context } from "aws-lambda";
import { DatabaseUnavailableError } from "../database/database.ts";
import { METRIC } from "../observability.ts";
import { BodyEncodingError, ContentEncodingError, PayloadTooLargeError } from "./body-limit.ts";

export type ErrorCode =
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  | "not_found"
  | "payload_too_large"
  | "unavailable"
  | "internal";

/** An error the API answers with its own status and code (docs/api.md). */
export interface ContractError {
  status: number;
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
}

/** Maps a domain error the function knows about; returns undefined for anything else. */
export type ErrorClassifier = (error: unknown) => ContractError | undefined;

function describeParseError(error: ParseError): string {
  const issues = (error.cause ?? []) as { message?: string; path?: PropertyKey[] }[];
  const messages = Array.isArray(issues)
    ? issues.map((issue) => issue.message).filter((message): message is string => !!message)
    : [];
  return messages.length > 0 ? messages.join("; ") : "malformed request";
}

function classifyCommon(error: unknown): ContractError | undefined {
  if (error instanceof ParseError) {
    return { status: 400, code: "invalid_request", message: describeParseError(error) };
  }
  if (error instanceof BodyEncodingError || error instanceof ContentEncodingError) {
    return { status: 400, code: "invalid_request", message: error.message };
  }
  if (error instanceof PayloadTooLargeError) {
    return { status: 413, code: "payload_too_large", message: error.message };
  }
  if (error instanceof DatabaseUnavailableError) {
    return {
      status: 503,
      code: "unavailable",
      message: "the database is temporarily unavailable; retry later",
      headers: { "Retry-After": String(error.retryAfterSeconds) },
    };
  }
  return undefined;
}

/**
 * The one place errors become responses: every failure leaves as docs/api.md's JSON
 * `{"error":{"code","message"},"requestId"}`, counted as a metric and logged once; a 500 never says
 * why. Put it after `@middy/http-error-handler` in `.use()` order so its `onError` runs first.
 */
export function httpErrorContract(options: {
  logger: Logger;
  metrics: Metrics;
  classify?: ErrorClassifier;
}): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    onError: (request) => {
      const error = request.error;
      const known = options.classify?.(error) ?? classifyCommon(error);
      const contract: ContractError = known ?? {
        status: 500,
        code: "internal",
        message: "internal error",
      };
      options.metrics.addMetric(METRIC.rejected(contract.code), MetricUnit.Count, 1);
      if (contract.status >= 500) {
        options.logger.error("request failed", { code: contract.code, error: error as Error });
      } else {
        options.logger.info("request rejected", { code: contract.code, reason: contract.message });
      }
      // API Gateway's request id is the one a client can quote (it also gets it as `apigw-requestid`).
      const event = request.event as { requestContext?: { requestId?: unknown } } | undefined;
      const gatewayRequestId = event?.requestContext?.requestId;
      const body = {
        error: { code: contract.code, message: contract.message },
        requestId:
          typeof gatewayRequestId === "string" ? gatewayRequestId : request.context.awsRequestId,
      };
      // @middy/http-error-handler renders `statusCode`, `message` and `headers` of an exposed error
      // (createError's options do not carry headers, so they are set on the error itself).
      request.error = Object.assign(
        createError(contract.status, JSON.stringify(body), { expose: true }),
        { headers: { "Cache-Control": "no-store", ...contract.headers } },
      );
    },
  };
}
