import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { ParseError } from "@aws-lambda-powertools/parser";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { DatabaseUnavailableError } from "../database/database.ts";
import { METRIC } from "../observability.ts";
import { BodyEncodingError, ContentEncodingError, PayloadTooLargeError } from "./body-limit.ts";

/** Every error code the API answers with (docs/api.md); each is counted as `rejected_<code>`. */
export const ERROR_CODES = [
  "invalid_request",
  "invalid_token",
  "insufficient_scope",
  "not_found",
  "payload_too_large",
  "unavailable",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

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
 * why. It sets `request.response` itself (as middy's own `http-error-handler` does), so it needs no
 * other error middleware and does not depend on where it sits in `.use()`.
 */
export function httpErrorContract(options: {
  logger: Logger;
  metrics: Metrics;
  classify?: ErrorClassifier;
}): MiddlewareObj<unknown, APIGatewayProxyStructuredResultV2, Error, Context> {
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
      request.response = {
        statusCode: contract.status,
        headers: {
          "Content-Type": "application/json",
          "Cache-Control": "no-store",
          ...contract.headers,
        },
        body: JSON.stringify(body),
      };
    },
  };
}
