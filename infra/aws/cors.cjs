"use strict";

/**
 * CORS for the HTTP API (docs/api.md): browser clients are answered only for the origins an operator
 * lists in the `corsAllowedOrigins` param (comma-separated; empty by default = no CORS at all).
 * The one definition both places use: serverless.yml resolves `provider.httpApi.cors` through
 * `httpApiCors` below, and `npm start`'s local API Gateway front (tools/local/http-api.ts) answers
 * preflights with the same `corsConfiguration`. CommonJS, because the Serverless Framework
 * `require`s variable-resolver files.
 *
 * Least privilege:
 * - every origin is listed explicitly (`scheme://host[:port]`, as browsers send `Origin`); `*` and
 *   API Gateway's `https://*` patterns are refused, so a configuration can never reflect an
 *   arbitrary origin;
 * - never credentials: the API authenticates with a bearer token in `Authorization`, which a
 *   script sets itself; cookies and HTTP authentication are never needed, so
 *   `Access-Control-Allow-Credentials` is never sent (and `*` with credentials cannot happen);
 * - only what the route needs: `POST`, the `authorization` and `content-type` request headers,
 *   and `retry-after` (the 503 answer's back-off) and `x-poll-interval` (the pacing hint) readable
 *   by the script.
 */

const ALLOWED_METHODS = ["POST"];
/** How errors name the setting: the param, and the variable serverless.yml and `npm start` read. */
const SETTING = "corsAllowedOrigins (CORS_ALLOWED_ORIGINS)";
const ALLOWED_HEADERS = ["authorization", "content-type"];
const EXPOSED_HEADERS = ["retry-after", "x-poll-interval"];
/** Seconds a browser may cache a preflight answer. */
const MAX_AGE_SECONDS = 600;

/**
 * `"https://a.example, http://localhost:5173"` → `["https://a.example", "http://localhost:5173"]`.
 * Blank → `[]`. Throws, naming the value, for anything that is not exactly an origin.
 * @param {unknown} value
 * @returns {string[]}
 */
function parseAllowedOrigins(value) {
  if (value === undefined || value === null) return [];
  if (typeof value !== "string") {
    throw new Error(`${SETTING} must be a comma-separated string of origins`);
  }
  const origins = [];
  for (const item of value.split(",")) {
    const origin = item.trim();
    if (origin === "") continue;
    if (origin.includes("*")) {
      throw new Error(
        `${SETTING}: "${origin}" is a wildcard; list each origin explicitly (docs/api.md)`,
      );
    }
    let url;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      (url.protocol !== "https:" && url.protocol !== "http:") ||
      url.origin !== origin
    ) {
      throw new Error(
        `${SETTING}: "${origin}" is not an origin; write it as a browser sends it, ` +
          "scheme://host[:port] in lower case, without a path or trailing slash",
      );
    }
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

/**
 * The CORS rules for these origins, in the Serverless Framework's `provider.httpApi.cors` shape;
 * undefined when there are none (no CORS configuration on the API).
 * @param {string[]} origins
 */
function corsConfiguration(origins) {
  if (origins.length === 0) return undefined;
  return {
    allowedOrigins: [...origins],
    allowedMethods: [...ALLOWED_METHODS],
    allowedHeaders: [...ALLOWED_HEADERS],
    exposedResponseHeaders: [...EXPOSED_HEADERS],
    allowCredentials: false,
    maxAge: MAX_AGE_SECONDS,
  };
}

/**
 * serverless.yml: `provider.httpApi.cors: ${file(infra/aws/cors.cjs):httpApiCors}`. `false`
 * (no CORS) unless the `corsAllowedOrigins` param lists origins.
 * @param {{ resolveVariable: (address: string) => Promise<unknown> }} serverless
 */
async function httpApiCors({ resolveVariable }) {
  const origins = parseAllowedOrigins(await resolveVariable("param:corsAllowedOrigins"));
  return corsConfiguration(origins) ?? false;
}

module.exports = { parseAllowedOrigins, corsConfiguration, httpApiCors };
