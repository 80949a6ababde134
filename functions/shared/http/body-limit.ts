import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/** A base64 body that is not valid UTF-8 (JSON must be UTF-8, RFC 8259 §8.1). */
export class BodyEncodingError extends Error {
  override readonly name = "BodyEncodingError";
  constructor() {
    super("body must be empty or a JSON object, encoded as UTF-8");
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class PayloadTooLargeError extends Error {
  override readonly name = "PayloadTooLargeError";
  constructor(readonly maxBytes: number) {
    super(`body is larger than ${maxBytes} bytes`);
  }
}

/**
 * Rejects bodies over `maxBytes` before anything parses them, and hands later middlewares the body
 * as text (API Gateway base64-encodes bodies it does not consider text).
 */
export function httpBodyLimit(options: {
  maxBytes: number;
}): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    before: (request) => {
      const { event } = request;
      if (event.body === undefined || event.body === null) return;
      const raw = event.isBase64Encoded
        ? Buffer.from(event.body, "base64")
        : Buffer.from(event.body);
      if (raw.byteLength > options.maxBytes) throw new PayloadTooLargeError(options.maxBytes);
      if (event.isBase64Encoded) {
        try {
          event.body = utf8.decode(raw);
        } catch {
          throw new BodyEncodingError();
        }
        event.isBase64Encoded = false;
      }
    },
  };
}
