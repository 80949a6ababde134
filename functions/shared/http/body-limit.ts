import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/** A base64 body that is not valid UTF-8 (JSON must be UTF-8, RFC 8259 §8.1). */
export class BodyEncodingError extends Error {
  override readonly name = "BodyEncodingError";
  constructor() {
    super("body must be empty or a JSON object, encoded as UTF-8");
  }
}

/** The body is declared compressed or otherwise encoded (docs/api.md: only `identity` is accepted). */
export class ContentEncodingError extends Error {
  override readonly name = "ContentEncodingError";
  constructor() {
    super("Content-Encoding must be identity: the body is read as sent, never decoded");
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * True when a `Content-Encoding` value says no coding was applied: absent, or a list whose every
 * element is `identity` (content codings are case-insensitive, RFC 9110 §8.4.1; empty list
 * elements are ignored, §5.6.1; API Gateway joins repeated headers with commas). Nothing decodes
 * a `gzip` or `br` body here, and reading one as if it were not encoded would misread it.
 */
function isIdentityEncoding(value: string | undefined): boolean {
  if (value === undefined) return true;
  return value
    .split(",")
    .map((coding) => coding.trim())
    .every((coding) => coding === "" || coding.toLowerCase() === "identity");
}

function headerValue(headers: Record<string, string | undefined> | null | undefined, name: string) {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

export class PayloadTooLargeError extends Error {
  override readonly name = "PayloadTooLargeError";
  constructor(readonly maxBytes: number) {
    super(`body is larger than ${maxBytes} bytes`);
  }
}

/**
 * Rejects an encoded body (`Content-Encoding` other than `identity`) and bodies over `maxBytes`
 * before anything parses them, and hands later middlewares the body as text (API Gateway
 * base64-encodes bodies it does not consider text).
 */
export function httpBodyLimit(options: {
  maxBytes: number;
}): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    before: (request) => {
      const { event } = request;
      // First, with or without a body: the request declares something this API never accepts.
      if (!isIdentityEncoding(headerValue(event.headers, "content-encoding"))) {
        throw new ContentEncodingError();
      }
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
