import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import {
  type Connection,
  DatabasePools,
  type Login,
  loginUrl,
  Transactions,
} from "./connections.ts";
import { toDataApiError } from "./database-errors.ts";
import { FaultQueue, FaultRequest, type Faults, faultOutcome } from "./faults.ts";
import {
  BatchExecuteStatementRequest,
  BeginTransactionRequest,
  DataApiError,
  EndTransactionRequest,
  ExecuteStatementRequest,
  parseRequest,
  toJson,
} from "./protocol.ts";
import { batchExecuteStatement, type CallLimits, executeStatement } from "./statements.ts";

export type { FaultKind } from "./faults.ts";

/**
 * A local endpoint that speaks the RDS Data API wire protocol over a real PostgreSQL, so the
 * unchanged `@aws-sdk/client-rds-data` (given `endpoint: server.url`) runs against it as against
 * Aurora. What it follows, and where it knowingly differs, is in ./README.md.
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/Welcome.html
 */

export interface DataApiServerOptions {
  /** Returns a PostgreSQL connection URL for a database name on the server. */
  connectionUrlFor(database: string): string;
  resourceArn?: string; // default "arn:aws:rds:us-east-1:000000000000:cluster:chat-heartbeat-local"
  secretArn?: string; // default "arn:aws:secretsmanager:us-east-1:000000000000:secret:chat-heartbeat-local"
  /**
   * More secrets, each naming a PostgreSQL login, as a Data API secret does: a call that names one
   * runs as that user (`secretArn` above runs as `connectionUrlFor`'s own user).
   */
  logins?: readonly SecretLogin[];
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (random)
  /** A transaction no call has used for this long is rolled back and forgotten. */
  transactionIdleTimeoutMs?: number; // default 180_000
  /** A call running longer answers StatementTimeoutException. */
  callTimeoutMs?: number; // default 45_000
}

export interface SecretLogin extends Login {
  secretArn: string;
}

export interface DataApiServer {
  url: string;
  resourceArn: string;
  secretArn: string;
  faults: Faults;
  /** Calls received per operation (faulted and failed ones included). */
  stats(): Record<string, number>;
  resetStats(): void;
  close(): Promise<void>;
}

export const DEFAULT_RESOURCE_ARN =
  "arn:aws:rds:us-east-1:000000000000:cluster:chat-heartbeat-local";
export const DEFAULT_SECRET_ARN =
  "arn:aws:secretsmanager:us-east-1:000000000000:secret:chat-heartbeat-local";

/** Without a `database`, a PostgreSQL session opens the database named like the user. */
const DEFAULT_DATABASE = "postgres";

/** "The maximum size of the HTTP request submitted through the Data API is 4 MiB."
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_BatchExecuteStatement.html */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

const CLUSTER_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:([A-Za-z][A-Za-z0-9-]*)$/;

type Operation =
  | "executeStatement"
  | "batchExecuteStatement"
  | "beginTransaction"
  | "commitTransaction"
  | "rollbackTransaction";

/** HTTP bindings, as the SDK's operation schemas declare them (`POST /Execute`, …). */
const ROUTES: Record<string, Operation> = {
  "/Execute": "executeStatement",
  "/BatchExecute": "batchExecuteStatement",
  "/BeginTransaction": "beginTransaction",
  "/CommitTransaction": "commitTransaction",
  "/RollbackTransaction": "rollbackTransaction",
};

function emptyStats(): Record<Operation, number> {
  return {
    executeStatement: 0,
    batchExecuteStatement: 0,
    beginTransaction: 0,
    commitTransaction: 0,
    rollbackTransaction: 0,
  };
}

class RequestTooLarge extends Error {}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new RequestTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  const text = body === undefined ? "" : toJson(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": randomUUID(),
    ...headers,
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: DataApiError): void {
  send(
    response,
    error.status,
    { message: error.message, ...error.members },
    { "x-amzn-errortype": error.type },
  );
}

export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const resourceArn = options.resourceArn ?? DEFAULT_RESOURCE_ARN;
  const secretArn = options.secretArn ?? DEFAULT_SECRET_ARN;
  const clusterId = CLUSTER_ARN.exec(resourceArn)?.[1];
  if (!clusterId) throw new Error(`not an Aurora cluster ARN: ${resourceArn}`);
  const nameOf = (arn: string) => arn.split(":secret:")[1] ?? arn;
  const secretName = nameOf(secretArn);
  /** Every secret the endpoint knows, by ARN and by name; undefined = the default login. */
  const secrets = new Map<string, Login | undefined>([
    [secretArn, undefined],
    [secretName, undefined],
  ]);
  for (const { secretArn: arn, username, password } of options.logins ?? []) {
    secrets.set(arn, { username, password });
    secrets.set(nameOf(arn), { username, password });
  }

  const pools = new DatabasePools(options.connectionUrlFor);
  const transactions = new Transactions(pools, options.transactionIdleTimeoutMs ?? 180_000);
  const faults = new FaultQueue();
  let stats = emptyStats();

  const limits: CallLimits = {
    callTimeoutMs: options.callTimeoutMs ?? 45_000,
    async cancel(connection, processId) {
      // From a connection of its own (the statement's one is busy running it), as the same user:
      // a role may cancel its own backends.
      const canceller = new pg.Client({
        connectionString: loginUrl(options.connectionUrlFor, connection.database, connection.login),
      });
      await canceller.connect();
      try {
        await canceller.query("SELECT pg_cancel_backend($1)", [processId]);
      } finally {
        await canceller.end();
      }
    },
  };

  /**
   * Which cluster and secret the call names; checked before anything runs. Returns the login the
   * secret names (undefined: the default one).
   */
  function checkTarget(call: {
    resourceArn: string;
    secretArn: string;
    schema?: string;
  }): Login | undefined {
    if (call.schema !== undefined) {
      // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
      throw new DataApiError("ValidationException", "The schema parameter isn't supported");
    }
    if (!CLUSTER_ARN.test(call.resourceArn)) {
      throw new DataApiError("BadRequestException", `Invalid cluster ARN: ${call.resourceArn}`);
    }
    if (call.resourceArn !== resourceArn) {
      // "HttpEndpoint is not enabled for cluster <cluster_ID>" is what an ARN that does not exactly
      // match the cluster's gets. https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.troubleshooting.html
      throw new DataApiError(
        "HttpEndpointNotEnabledException",
        `HttpEndpoint is not enabled for cluster ${call.resourceArn}`,
      );
    }
    if (!secrets.has(call.secretArn)) {
      // "The secret provided wasn't found." (SecretsErrorException in the service model)
      throw new DataApiError("SecretsErrorException", "The secret provided wasn't found.");
    }
    return secrets.get(call.secretArn);
  }

  /** A statement outside any transaction: a pooled connection, given back once it is idle. */
  async function autocommit<T>(
    database: string,
    login: Login | undefined,
    work: (c: Connection) => Promise<T>,
  ) {
    const connection = await pools.connect(database, login);
    try {
      return await work(connection);
    } finally {
      void connection.idle.then(() => connection.client.release(connection.discard));
    }
  }

  const operations: Record<Operation, (body: unknown) => Promise<unknown>> = {
    async executeStatement(body) {
      const call = parseRequest(ExecuteStatementRequest, body);
      const login = checkTarget(call);
      if (call.transactionId) {
        return transactions.use(call.transactionId, (connection) =>
          executeStatement(connection, call, limits),
        );
      }
      return autocommit(call.database ?? DEFAULT_DATABASE, login, (connection) =>
        executeStatement(connection, call, limits),
      );
    },

    async batchExecuteStatement(body) {
      const call = parseRequest(BatchExecuteStatementRequest, body);
      const login = checkTarget(call);
      if (call.transactionId) {
        return transactions.use(call.transactionId, (connection) =>
          batchExecuteStatement(connection, call, limits),
        );
      }
      // Outside a transaction the whole batch commits, or none of it (one JDBC batch).
      return autocommit(call.database ?? DEFAULT_DATABASE, login, async (connection) => {
        await connection.client.query("BEGIN");
        try {
          const result = await batchExecuteStatement(connection, call, limits);
          await connection.client.query("COMMIT");
          return result;
        } catch (error) {
          connection.idle = connection.idle.then(() =>
            connection.client.query("ROLLBACK").catch(() => undefined),
          );
          throw error;
        }
      });
    },

    async beginTransaction(body) {
      const call = parseRequest(BeginTransactionRequest, body);
      const login = checkTarget(call);
      return {
        transactionId: await transactions.begin(call.database ?? DEFAULT_DATABASE, login),
      };
    },

    // Response texts as in the CLI reference examples.
    // https://docs.aws.amazon.com/cli/latest/reference/rds-data/commit-transaction.html
    async commitTransaction(body) {
      const call = parseRequest(EndTransactionRequest, body);
      checkTarget(call);
      await transactions.commit(call.transactionId);
      return { transactionStatus: "Transaction Committed" };
    },

    async rollbackTransaction(body) {
      const call = parseRequest(EndTransactionRequest, body);
      checkTarget(call);
      await transactions.rollback(call.transactionId);
      return { transactionStatus: "Rollback Complete" };
    },
  };

  async function handleData(
    operation: Operation,
    request: IncomingMessage,
    response: ServerResponse,
  ) {
    stats[operation] += 1;
    const text = await readBody(request);
    const fault = faults.take();
    if (fault) {
      const outcome = faultOutcome(fault, clusterId as string);
      if (outcome.reset) {
        request.socket.destroy();
        return;
      }
      throw outcome.error;
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new DataApiError("BadRequestException", "The request body is not valid JSON.");
    }
    send(response, 200, await operations[operation](body));
  }

  /** Local-only control routes: fault injection and call counts. */
  async function handleAdmin(path: string, request: IncomingMessage, response: ServerResponse) {
    if (path === "/_local/faults" && request.method === "POST") {
      const parsed = FaultRequest.safeParse(JSON.parse((await readBody(request)) || "{}"));
      if (!parsed.success) {
        send(response, 400, { message: parsed.error.issues[0]?.message ?? "invalid fault" });
        return;
      }
      faults.inject(parsed.data);
      send(response, 200, { injected: parsed.data });
    } else if (path === "/_local/faults" && request.method === "DELETE") {
      faults.clear();
      send(response, 200, { cleared: true });
    } else if (path === "/_local/stats" && request.method === "GET") {
      send(response, 200, stats);
    } else if (path === "/_local/stats" && request.method === "DELETE") {
      stats = emptyStats();
      send(response, 200, stats);
    } else {
      send(response, 404, { message: `No local route ${request.method} ${path}` });
    }
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const operation = request.method === "POST" ? ROUTES[path] : undefined;
    const handled = path.startsWith("/_local/")
      ? handleAdmin(path, request, response)
      : operation
        ? handleData(operation, request, response)
        : Promise.reject(
            path === "/ExecuteSql"
              ? // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html
                new DataApiError(
                  "BadRequestException",
                  "ExecuteSql isn't supported for Aurora Serverless v2 and provisioned DB clusters; use ExecuteStatement.",
                )
              : new DataApiError(
                  "BadRequestException",
                  `Unknown operation ${request.method} ${path}`,
                ),
          );
    handled.catch((error: unknown) => {
      if (response.headersSent || request.socket.destroyed) return;
      if (error instanceof RequestTooLarge) {
        sendError(
          response,
          new DataApiError("BadRequestException", "The request is larger than 4 MiB."),
        );
        return;
      }
      const answer = toDataApiError(error);
      if (answer.type === "InternalServerErrorException") console.error(error);
      sendError(response, answer);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    resourceArn,
    secretArn,
    faults,
    stats: () => ({ ...stats }),
    resetStats: () => {
      stats = emptyStats();
    },
    close() {
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await transactions.close();
        await pools.close();
      })();
      return closed;
    },
  };
}
