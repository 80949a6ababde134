import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import * as ajvFormats from "ajv-formats";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { parse } from "yaml";

/**
 * docs/openapi.yaml as a test oracle: every response the HTTP-level tests get (the real handler in
 * process, `npm start`'s API Gateway front, `npm start` itself) goes through
 * {@link assertMatchesOpenApi}, so the document cannot drift from what the code answers. The
 * schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), validated by Ajv's 2020 class; this
 * module only finds the operation, the response for the status and the parts to check.
 */

export const OPENAPI_PATH = new URL("../../docs/openapi.yaml", import.meta.url);

interface SchemaHolder {
  schema?: unknown;
}
interface HeaderObject extends SchemaHolder {
  required?: boolean;
}
interface ResponseObject {
  headers?: Record<string, HeaderObject | { $ref: string }>;
  content?: Record<string, SchemaHolder & { examples?: Record<string, { value: unknown }> }>;
}
interface OperationObject {
  responses: Record<string, ResponseObject>;
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
}

export const openApiDocument = parse(readFileSync(OPENAPI_PATH, "utf8")) as OpenApiDocument;

// ajv-formats is CommonJS (`module.exports = plugin`, plus `exports.default`): take the plugin
// whichever way this module system hands it over.
const addFormats = ((ajvFormats as { default?: unknown }).default ??
  ajvFormats) as unknown as ajvFormats.FormatsPlugin;

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictTypes: false,
  allowUnionTypes: true,
});
addFormats(ajv);
// The document's components, once, as a schema resource of their own; `components` is an
// annotation to Ajv (only what a reference points at is compiled). OpenAPI's own schema keywords
// are allowed as annotations too.
ajv.addVocabulary(["components", "discriminator", "xml", "externalDocs", "example"]);
const COMPONENTS_ID = "urn:chat-heartbeat:openapi";
ajv.addSchema({ $id: COMPONENTS_ID, components: openApiDocument.components });

/** The schema with the document's local references (`#/components/…`) made absolute. */
function anchored(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(anchored);
  if (schema === null || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([name, value]) => [
      name,
      name === "$ref" && typeof value === "string" && value.startsWith("#/")
        ? `${COMPONENTS_ID}${value}`
        : anchored(value),
    ]),
  );
}

const validators = new Map<string, ValidateFunction>();

/** A validator for a schema taken from the document (compiled once per distinct schema). */
export function schemaValidator(schema: unknown): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(anchored(schema) as object);
    validators.set(key, validate);
  }
  return validate;
}

function resolve<T>(value: T | { $ref: string }): T {
  if (value && typeof value === "object" && "$ref" in value && typeof value.$ref === "string") {
    const path = value.$ref.replace(/^#\//, "").split("/");
    let target: unknown = openApiDocument;
    for (const part of path) {
      target = (target as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    }
    if (target === undefined) throw new Error(`docs/openapi.yaml: unresolved ${value.$ref}`);
    return resolve(target as T);
  }
  return value as T;
}

/** The documented path template that a request path matches, if any. */
export function documentedPath(requestPath: string): string | undefined {
  const path = requestPath.split("?")[0] ?? "";
  return Object.keys(openApiDocument.paths).find((template) => {
    const pattern = template
      .split(/\{[^}]+\}/)
      .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
      .join("[^/]+");
    return new RegExp(`^${pattern}$`).test(path);
  });
}

/** True when docs/openapi.yaml has an operation for this method and request path. */
export function isDocumented(method: string, requestPath: string): boolean {
  const template = documentedPath(requestPath);
  return template !== undefined && method.toLowerCase() in (openApiDocument.paths[template] ?? {});
}

export interface ObservedResponse {
  /** The request's method and path (path template or concrete path). */
  method: string;
  path: string;
  status: number;
  /** Header names in any case; a repeated header's values joined with ", ". */
  headers: Record<string, string | undefined>;
  /** The raw body text ("" or undefined when none). */
  body: string | undefined | null;
}

function schemaType(schema: unknown): unknown {
  const resolved = resolve(schema as object) as { type?: unknown; allOf?: unknown[] };
  return resolved.type;
}

/** Header values are text; OpenAPI's `simple` style turns one for an integer schema into a number. */
function headerValue(schema: unknown, text: string): unknown {
  const type = schemaType(schema);
  if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(text.trim())) {
    return Number(text.trim());
  }
  return text;
}

const describeErrors = (validate: ValidateFunction) =>
  (validate.errors ?? [])
    .map(
      (error) =>
        `${error.instancePath || "(root)"} ${error.message} ${JSON.stringify(error.params)}`,
    )
    .join("; ");

/**
 * What is wrong with this response according to docs/openapi.yaml: an empty list when it matches.
 * Undocumented paths and methods are a caller's error (they are API Gateway's, not ours).
 */
export function openApiViolations(response: ObservedResponse): string[] {
  const template = documentedPath(response.path);
  if (!template) throw new Error(`${response.path} is not a path of docs/openapi.yaml`);
  const method = response.method.toLowerCase();
  const operation = openApiDocument.paths[template]?.[method] as OperationObject | undefined;
  if (!operation)
    throw new Error(`${method.toUpperCase()} ${template} is not in docs/openapi.yaml`);
  const where = `${method.toUpperCase()} ${template} → ${response.status}`;

  const status = [
    String(response.status),
    `${String(response.status).charAt(0)}XX`,
    "default",
  ].find((key) => key in operation.responses);
  if (status === undefined) return [`${where}: status not documented`];
  const declared = resolve(operation.responses[status] as ResponseObject);
  const violations: string[] = [];

  const headers = new Map(
    Object.entries(response.headers)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => [name.toLowerCase(), value]),
  );
  for (const [name, headerOrRef] of Object.entries(declared.headers ?? {})) {
    const header = resolve(headerOrRef);
    const value = headers.get(name.toLowerCase());
    if (value === undefined) {
      if (header.required) violations.push(`${where}: header ${name} is required`);
      continue;
    }
    const validate = schemaValidator(header.schema ?? {});
    if (!validate(headerValue(header.schema, value))) {
      violations.push(
        `${where}: header ${name}: ${JSON.stringify(value)} ${describeErrors(validate)}`,
      );
    }
  }

  const body = response.body ?? "";
  const content = declared.content ?? {};
  const mediaTypes = Object.keys(content);
  if (mediaTypes.length === 0) {
    if (body !== "") violations.push(`${where}: no body documented, got ${body.slice(0, 80)}`);
    return violations;
  }
  const contentType = (headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  const mediaType = mediaTypes.find((type) => type.toLowerCase() === contentType);
  if (!mediaType) {
    violations.push(
      `${where}: Content-Type ${JSON.stringify(contentType)} is not one of ${mediaTypes}`,
    );
    return violations;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    violations.push(`${where}: body is not JSON: ${body.slice(0, 80)}`);
    return violations;
  }
  const validate = schemaValidator(content[mediaType]?.schema ?? {});
  if (!validate(parsed)) violations.push(`${where}: body ${describeErrors(validate)}`);
  return violations;
}

/**
 * Compiles every validator the document needs now, at import: compiling on a test's first response
 * would block the event loop for a quarter second while that test's other requests are in flight
 * (50 concurrent heartbeats against a 1.5 s database budget), and turn them into 503s.
 */
function compileAll(): void {
  for (const item of Object.values(openApiDocument.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (method === "parameters") continue;
      for (const responseOrRef of Object.values((operation as OperationObject).responses)) {
        const response = resolve(responseOrRef);
        for (const header of Object.values(response.headers ?? {})) {
          schemaValidator(resolve(header).schema ?? {});
        }
        for (const media of Object.values(response.content ?? {})) {
          schemaValidator(media.schema ?? {});
        }
      }
    }
  }
}
compileAll();

/** Throws, naming every violation, unless the response matches docs/openapi.yaml. */
export function assertMatchesOpenApi(response: ObservedResponse): void {
  const violations = openApiViolations(response);
  if (violations.length > 0) {
    throw new Error(
      `response does not match docs/openapi.yaml:\n- ${violations.join("\n- ")}\nbody: ${response.body}`,
    );
  }
}

/**
 * The heartbeat function's module with its handler wrapped: every result is checked against the
 * document before the caller sees it. The function serves one route, so its answers are held to
 * that operation's responses (API Gateway would route nothing else to it).
 */
export function checkedAgainstOpenApi<Module extends { handler: unknown }>(module: Module): Module {
  const handler = module.handler as (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
  const checked = async (event: APIGatewayProxyEventV2, context: Context) => {
    const result = await handler(event, context);
    assertMatchesOpenApi({
      method: "POST",
      path: "/chats/{chatId}/heartbeat",
      status: result.statusCode ?? 200,
      headers: Object.fromEntries(
        Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]),
      ),
      body: result.isBase64Encoded
        ? Buffer.from(result.body ?? "", "base64").toString("utf8")
        : result.body,
    });
    return result;
  };
  return { ...module, handler: checked };
}
