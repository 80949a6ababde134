import { z } from "zod/mini";

/**
 * The RDS Data API wire protocol (AWS restJson1), as `@aws-sdk/client-rds-data` speaks it:
 * `POST /Execute` etc. with a JSON body; errors as an HTTP status plus the `x-amzn-ErrorType`
 * header and `{"message": …}`, which the SDK maps to its exception classes by name.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/CommonErrors.html
 */

/** Status codes as the SDK's error schemas declare them (`{ httpError: … }` in its model). */
const ERROR_STATUS = {
  AccessDeniedException: 403,
  BadRequestException: 400,
  DatabaseErrorException: 400,
  DatabaseNotFoundException: 404,
  DatabaseResumingException: 400,
  DatabaseUnavailableException: 504,
  ForbiddenException: 403,
  HttpEndpointNotEnabledException: 400,
  InternalServerErrorException: 500,
  InvalidResourceStateException: 400,
  InvalidSecretException: 400,
  NotFoundException: 404,
  SecretsErrorException: 400,
  ServiceUnavailableError: 503,
  StatementTimeoutException: 400,
  TransactionNotFoundException: 404,
  UnsupportedResultException: 400,
  // Not in the service model, but sent by the service: the SDK surfaces them as a plain
  // RDSDataServiceException carrying this name. Throttling is "Rate exceeded", HTTP 400.
  // https://github.com/awsdocs/amazon-rds-user-guide/issues/110
  ThrottlingException: 400,
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
  ValidationException: 400,
} as const;

export type DataApiErrorType = keyof typeof ERROR_STATUS;

/** An error the endpoint answers with, in the shape the SDK turns into its exception classes. */
export class DataApiError extends Error {
  override readonly name = "DataApiError";
  constructor(
    readonly type: DataApiErrorType,
    message: string,
    /** Extra members of the error structure (StatementTimeoutException's `dbConnectionId`). */
    readonly members: Record<string, unknown> = {},
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.type];
  }
}

/** The message users report with the service's StatementTimeoutException.
 * https://github.com/aws/aws-sdk-js/issues/3385, https://github.com/koxudaxi/py-data-api/issues/29 */
export const STATEMENT_TIMEOUT_MESSAGE = "Request timed out";

/**
 * A JSON integer written with all its digits. The service sends 64-bit values as JSON numbers;
 * going through a JS `number` here would round them before the client ever sees them.
 */
export class JsonInteger {
  constructor(readonly digits: string) {}
}

/** `JSON.stringify` that writes {@link JsonInteger}s verbatim. */
export function toJson(value: unknown): string {
  if (value instanceof JsonInteger) return value.digits;
  if (Array.isArray(value)) return `[${value.map((item) => toJson(item ?? null)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => `${JSON.stringify(key)}:${toJson(member)}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

// ---- requests -------------------------------------------------------------------------------
// Shapes and limits from the API reference:
// https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
// https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_SqlParameter.html

const FIELD_MEMBERS = [
  "isNull",
  "booleanValue",
  "longValue",
  "doubleValue",
  "stringValue",
  "blobValue",
  "arrayValue",
] as const;

/** Smithy sends non-finite doubles as the strings "NaN", "Infinity", "-Infinity". */
const JsonDouble = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"])]);

export const Field = z
  .object({
    isNull: z.optional(z.boolean()),
    booleanValue: z.optional(z.boolean()),
    longValue: z.optional(z.number().check(z.int())),
    doubleValue: z.optional(JsonDouble),
    stringValue: z.optional(z.string()),
    blobValue: z.optional(z.base64()),
    arrayValue: z.optional(z.unknown()),
  })
  .check(
    // Field is a union: exactly one member is set.
    z.refine((field) => FIELD_MEMBERS.filter((name) => field[name] !== undefined).length === 1, {
      message: "exactly one member of a Field must be set",
    }),
  );
export type Field = z.output<typeof Field>;

export const TypeHint = z.enum(["JSON", "UUID", "TIMESTAMP", "DATE", "TIME", "DECIMAL"]);
export type TypeHint = z.output<typeof TypeHint>;

export const SqlParameter = z.object({
  name: z.optional(z.string()),
  value: z.optional(Field),
  typeHint: z.optional(TypeHint),
});
export type SqlParameter = z.output<typeof SqlParameter>;

const Arn = z.string().check(z.minLength(11), z.maxLength(100));
const DatabaseName = z.string().check(z.maxLength(64));
const TransactionId = z.string().check(z.maxLength(192));

const Target = {
  resourceArn: Arn,
  secretArn: Arn,
  database: z.optional(DatabaseName),
  schema: z.optional(z.string().check(z.maxLength(64))),
};

export const ExecuteStatementRequest = z.object({
  ...Target,
  sql: z.string().check(z.maxLength(65536)),
  parameters: z.optional(z.array(SqlParameter)),
  transactionId: z.optional(TransactionId),
  includeResultMetadata: z.optional(z.boolean()),
  continueAfterTimeout: z.optional(z.boolean()),
  resultSetOptions: z.optional(
    z.object({
      decimalReturnType: z.optional(z.enum(["STRING", "DOUBLE_OR_LONG"])),
      longReturnType: z.optional(z.enum(["STRING", "LONG"])),
    }),
  ),
  formatRecordsAs: z.optional(z.enum(["NONE", "JSON"])),
});
export type ExecuteStatementRequest = z.output<typeof ExecuteStatementRequest>;

export const BatchExecuteStatementRequest = z.object({
  ...Target,
  sql: z.string().check(z.maxLength(65536)),
  parameterSets: z.optional(z.array(z.array(SqlParameter))),
  transactionId: z.optional(TransactionId),
});
export type BatchExecuteStatementRequest = z.output<typeof BatchExecuteStatementRequest>;

export const BeginTransactionRequest = z.object(Target);
export type BeginTransactionRequest = z.output<typeof BeginTransactionRequest>;

export const EndTransactionRequest = z.object({
  resourceArn: Arn,
  secretArn: Arn,
  transactionId: TransactionId,
});
export type EndTransactionRequest = z.output<typeof EndTransactionRequest>;

/** Parses a request body, or answers as the service does a malformed call. */
export function parseRequest<S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  throw new DataApiError("BadRequestException", `Invalid request: ${where}${issue?.message}`);
}
