import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import httpEventNormalizer from "@middy/http-event-normalizer";
import httpHeaderNormalizer from "@middy/http-header-normalizer";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { createDataApiDatabase } from "../shared/database/data-api.ts";
import { httpBodyLimit } from "../shared/http/body-limit.ts";
import { httpErrorContract } from "../shared/http/error-contract.ts";
import { createObservability, METRIC, SERVICE } from "../shared/observability.ts";
import { createChatTokenVerifier } from "./auth/chat-token.ts";
import { chatTokenKeySource } from "./auth/keys.ts";
import { loadHeartbeatConfig } from "./config.ts";
import { recordChatHeartbeat } from "./domain/record-heartbeat.ts";
import { classifyHeartbeatError } from "./heartbeat-errors.ts";
import { HeartbeatEvent } from "./heartbeat-event.ts";
import { createHeartbeatStore } from "./heartbeat-store.ts";

// Cold start: configuration, clients and keys are built once per container.
const config = loadHeartbeatConfig();
const { logger, metrics, tracer } = createObservability(SERVICE.heartbeat);
const database = createDataApiDatabase(config.database, {
  instrumentClient: (client) => tracer.captureAWSv3Client(client),
});
const store = createHeartbeatStore(database, { bucketSeconds: config.bucketSeconds });
const verifier = createChatTokenVerifier({
  keys: chatTokenKeySource(config.token.key),
  issuer: config.token.issuer,
  audience: config.token.audience,
  algorithms: config.token.algorithms,
  maxLifetimeSeconds: config.token.maxLifetimeSeconds,
  type: config.token.type,
});

export const MAX_BODY_BYTES = 4096;
/** Seconds until the next heartbeat can matter; the same value as `nextHeartbeatSeconds`. */
export const POLL_INTERVAL_HEADER = "X-Poll-Interval";

async function heartbeat(event: HeartbeatEvent): Promise<APIGatewayProxyStructuredResultV2> {
  const { chatId } = event.pathParameters;
  logger.appendKeys({ chatId });
  const response = await recordChatHeartbeat(
    { chatId, authorization: event.headers.authorization },
    { verifier, store },
  );
  logger.appendKeys({ workspaceId: response.workspaceId, outcome: response.outcome });
  metrics.addMetric(METRIC.accepted(response.outcome), MetricUnit.Count, 1);
  logger.info("heartbeat");
  return {
    statusCode: 200,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      // The pacing hint where HTTP clients look without parsing the body (GitHub's polling header).
      [POLL_INTERVAL_HEADER]: String(response.nextHeartbeatSeconds),
    },
    body: JSON.stringify(response),
  };
}

// Never `logEvent: true`: the event carries the bearer token.
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(httpErrorContract({ logger, metrics, classify: classifyHeartbeatError }))
  .use(httpHeaderNormalizer())
  .use(httpEventNormalizer())
  .use(httpBodyLimit({ maxBytes: MAX_BODY_BYTES }))
  .use(parser({ schema: HeartbeatEvent }))
  .handler(heartbeat);
