import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { CorsConfiguration } from "../../infra/aws/cors.cjs";

/**
 * `npm start`'s API Gateway: an HTTP API (payload 2.0) front that builds each Lambda event from
 * the raw request and invokes the function through serverless-offline's Lambda endpoint.
 *
 * serverless-offline's own HTTP server is not what API Gateway does in three ways that matter to
 * this API's contract, and none of them can be switched off: it builds `headers` from the raw
 * header list so the last of two `Authorization` headers wins (API Gateway joins repeated headers
 * with commas: `Bearer a,Bearer b`, which the handler refuses); it JSON-parses a JSON body and
 * hands the function the parsed value, so a body of `null` (or `""`) arrives as no body at all;
 * and without CORS configuration it answers every `Origin` with that origin plus
 * `access-control-allow-credentials: true`. Here the function gets the request as API Gateway
 * would give it, and CORS follows the same rules as the deployed API (infra/aws/cors.cjs).
 *
 * What API Gateway does that this front does not (README, "Local differences"): throttling, the
 * 30 s integration timeout, TLS, custom domains, authorizers (this API has none).
 */

export interface LocalRoute {
  method: string;
  /** API Gateway route path, `{name}` matching one path segment. */
  path: string;
  /** The Lambda function name serverless-offline knows it by (`<service>-<stage>-<function>`). */
  functionName: string;
}

/** What an invoked function returned, or that it failed (an unhandled error, a crash). */
export type InvokeResult = { ok: true; payload: unknown } | { ok: false; error: string };

export type Invoke = (functionName: string, event: APIGatewayProxyEventV2) => Promise<InvokeResult>;

export interface LocalHttpApiOptions {
  port: number;
  host?: string;
  routes: LocalRoute[];
  invoke: Invoke;
  /** undefined: no CORS configuration, as on the deployed API by default. */
  cors: CorsConfiguration | undefined;
  /** API Gateway's HTTP API payload limit. */
  maxBodyBytes?: number;
}

export interface LocalHttpApi {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** serverless-offline's Lambda endpoint (AWS Lambda's Invoke API) on `lambdaPort`. */
export function offlineLambdaInvoker(lambdaPort: number, host = "127.0.0.1"): Invoke {
  return async (functionName, event) => {
    const response = await fetch(
      `http://${host}:${lambdaPort}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "x-amz-invocation-type": "RequestResponse" },
        body: JSON.stringify(event),
      },
    );
    const text = await response.text();
    if (
      response.status !== 200 ||
      response.headers.has("x-amz-function-error") ||
      response.headers.has("x-amzn-errortype")
    ) {
      return { ok: false, error: `invoke answered ${response.status}: ${text.slice(0, 500)}` };
    }
    try {
      return { ok: true, payload: text === "" ? null : JSON.parse(text) };
    } catch {
      return { ok: false, error: `invoke returned no JSON: ${text.slice(0, 500)}` };
    }
  };
}

function matchRoute(
  routes: LocalRoute[],
  method: string,
  rawPath: string,
): { route: LocalRoute; pathParameters: Record<string, string> } | undefined {
  const segments = rawPath.split("/");
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split("/");
    if (pattern.length !== segments.length) continue;
    const pathParameters: Record<string, string> = {};
    const matched = pattern.every((part, index) => {
      const segment = segments[index] as string;
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined) return part === segment;
      if (segment === "") return false;
      try {
        pathParameters[name] = decodeURIComponent(segment);
      } catch {
        pathParameters[name] = segment;
      }
      return true;
    });
    if (matched) return { route, pathParameters };
  }
  return undefined;
}

/** Lower-cased names; repeated headers joined with commas; cookies apart (payload 2.0). */
function eventHeaders(rawHeaders: string[]): {
  headers: Record<string, string>;
  cookies: string[];
} {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] as string).toLowerCase();
    const value = rawHeaders[index + 1] as string;
    if (name === "cookie") {
      cookies.push(
        ...value
          .split(";")
          .map((cookie) => cookie.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
}

const TEXT_MEDIA_TYPE =
  /^\s*(text\/[^;]*|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))\s*(;|$)/i;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A text body as a string; anything else (or bytes that are not UTF-8) base64-encoded. */
function eventBody(raw: Buffer, contentType: string | undefined) {
  if (raw.byteLength === 0) return { isBase64Encoded: false };
  if (contentType !== undefined && TEXT_MEDIA_TYPE.test(contentType)) {
    try {
      return { body: strictUtf8.decode(raw), isBase64Encoded: false };
    } catch {
      // not UTF-8: passed on as bytes
    }
  }
  return { body: raw.toString("base64"), isBase64Encoded: true };
}

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time`. */
function clfTime(date: Date): string {
  const month = date.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${month}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === "") return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return parameters;
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on("end", () => resolve(tooLarge ? "too_large" : Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body?: Buffer | string,
) {
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  response.statusCode = status;
  response.end(body);
}

const json = (message: string) => JSON.stringify({ message });

/** API Gateway's own error answer: `{"message": …}` as JSON, with this request's headers. */
function sendMessage(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  message: string,
) {
  send(response, status, { ...headers, "content-type": "application/json" }, json(message));
}

/** Maps a payload 2.0 function result to the HTTP response (API Gateway's rules). */
function integrationResponse(payload: unknown): {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer | string | undefined;
} {
  if (typeof payload === "object" && payload !== null && "statusCode" in payload) {
    const result = payload as {
      statusCode: unknown;
      headers?: Record<string, unknown>;
      cookies?: unknown[];
      body?: unknown;
      isBase64Encoded?: unknown;
    };
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      headers[name.toLowerCase()] = String(value);
    }
    if (Array.isArray(result.cookies) && result.cookies.length > 0) {
      headers["set-cookie"] = result.cookies.map(String);
    }
    const text = typeof result.body === "string" ? result.body : undefined;
    const body =
      text !== undefined && result.isBase64Encoded === true ? Buffer.from(text, "base64") : text;
    return { status: Number(result.statusCode), headers, body };
  }
  // Not a structured result: API Gateway answers 200 with the value as a JSON body.
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: typeof payload === "string" ? payload : JSON.stringify(payload),
  };
}

/** API Gateway's CORS headers for an actual (non-preflight) request from an allowed origin. */
function corsResponseHeaders(cors: CorsConfiguration, origin: string): Record<string, string> {
  return {
    "access-control-allow-origin": origin,
    ...(cors.exposedResponseHeaders.length > 0
      ? { "access-control-expose-headers": cors.exposedResponseHeaders.join(",") }
      : {}),
  };
}

export async function startLocalHttpApi(options: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const host = options.host ?? "127.0.0.1";
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const { cors } = options;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const requestId = randomBytes(12).toString("base64url");
    const base = { "apigw-requestid": requestId };
    const target = request.url ?? "/";
    const queryAt = target.indexOf("?");
    const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
    const rawQueryString = queryAt === -1 ? "" : target.slice(queryAt + 1);
    const method = (request.method ?? "GET").toUpperCase();
    const { headers, cookies } = eventHeaders(request.rawHeaders);
    const origin = headers.origin;

    const raw = await readBody(request, maxBodyBytes);
    if (raw === "too_large") {
      sendMessage(response, 413, base, "Request Entity Too Large");
      return;
    }

    // CORS configured: API Gateway answers every preflight itself, route or not.
    if (
      cors &&
      method === "OPTIONS" &&
      origin !== undefined &&
      headers["access-control-request-method"]
    ) {
      const allowed = cors.allowedOrigins.includes(origin);
      send(
        response,
        204,
        allowed
          ? {
              ...base,
              "access-control-allow-origin": origin,
              "access-control-allow-methods": cors.allowedMethods.join(","),
              "access-control-allow-headers": cors.allowedHeaders.join(","),
              "access-control-max-age": String(cors.maxAge),
            }
          : base,
      );
      return;
    }

    const matched = matchRoute(options.routes, method, rawPath);
    if (!matched) {
      sendMessage(response, 404, base, "Not Found");
      return;
    }

    const now = new Date();
    const domain = headers.host ?? "localhost";
    const remote = request.socket.remoteAddress ?? "127.0.0.1";
    const routeKey = `${matched.route.method} ${matched.route.path}`;
    const query = queryParameters(rawQueryString);
    const event: APIGatewayProxyEventV2 = {
      version: "2.0",
      routeKey,
      rawPath,
      rawQueryString,
      ...(cookies.length > 0 ? { cookies } : {}),
      headers: {
        ...headers,
        "x-forwarded-for": remote,
        "x-forwarded-port": String(request.socket.localPort),
        "x-forwarded-proto": "http",
      },
      ...(query ? { queryStringParameters: query } : {}),
      requestContext: {
        accountId: "000000000000",
        apiId: "local",
        domainName: domain,
        domainPrefix: domain.split(".")[0] ?? domain,
        http: {
          method,
          path: rawPath,
          protocol: `HTTP/${request.httpVersion}`,
          sourceIp: remote,
          userAgent: headers["user-agent"] ?? "",
        },
        requestId,
        routeKey,
        stage: "$default",
        time: clfTime(now),
        timeEpoch: now.getTime(),
      },
      pathParameters: matched.pathParameters,
      ...eventBody(raw, headers["content-type"]),
    };

    let result: InvokeResult;
    try {
      result = await options.invoke(matched.route.functionName, event);
    } catch (error) {
      result = { ok: false, error: (error as Error).message };
    }
    if (!result.ok) {
      console.error(`local API Gateway: ${matched.route.functionName} failed: ${result.error}`);
      sendMessage(response, 500, base, "Internal Server Error");
      return;
    }
    const answer = integrationResponse(result.payload);
    if (cors) {
      // API Gateway ignores the integration's CORS headers when CORS is configured.
      for (const name of Object.keys(answer.headers)) {
        if (name.startsWith("access-control-")) delete answer.headers[name];
      }
      if (origin !== undefined && cors.allowedOrigins.includes(origin)) {
        Object.assign(answer.headers, corsResponseHeaders(cors, origin));
      }
    }
    send(response, answer.status, { ...answer.headers, ...base }, answer.body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error(`local API Gateway: ${(error as Error).stack ?? String(error)}`);
      if (!response.headersSent) send(response, 500, {}, json("Internal Server Error"));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
