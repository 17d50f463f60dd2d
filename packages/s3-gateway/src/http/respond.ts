import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { S3_ERRORS, type S3Error } from "../errors/s3-errors.js";
import { toXml, type XmlNode } from "../xml/xml.js";

// Unique per process start plus a counter: no random bytes to draw on every request.
const REQUEST_ID_PREFIX = randomBytes(5).toString("hex").toUpperCase();
let requestCounter = 0;
export function requestId(): string {
  requestCounter = (requestCounter + 1) % 0x1000000;
  return REQUEST_ID_PREFIX + requestCounter.toString(16).toUpperCase().padStart(6, "0");
}

export function sendXml(
  res: ServerResponse,
  status: number,
  root: string,
  body: XmlNode,
  namespace = true,
): number {
  const text = toXml(root, body, { namespace });
  const bytes = Buffer.byteLength(text);
  res.writeHead(status, { "content-type": "application/xml", "content-length": bytes });
  res.end(text);
  return bytes;
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): number {
  res.writeHead(status, { ...headers, "content-length": "0" });
  res.end();
  return 0;
}

/** An S3 `<Error>` document (no body for HEAD, as S3 does). */
export function sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, resource: string): number {
  // An unread request body is drained so the client reads the error instead of a reset.
  if (!req.complete) req.resume();
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const status = S3_ERRORS[err.code].status;
  if (req.method === "HEAD" || status === 304) {
    res.writeHead(status, {
      "x-amz-error-code": err.code,
      "x-amz-error-message": err.message.replace(/[^\x20-\x7e]/g, "?"),
    });
    res.end();
    return 0;
  }
  return sendXml(res, status, "Error", errorBody(res, err, resource), false);
}

/** The `<Error>` document's fields. */
export function errorBody(res: ServerResponse, err: S3Error, resource: string): XmlNode {
  return {
    Code: err.code,
    Message: err.message,
    ...err.extra,
    Resource: resource,
    RequestId: String(res.getHeader("x-amz-request-id") ?? ""),
  };
}

/**
 * Keep a slow response alive the way S3 does for CompleteMultipartUpload: after `afterMs`, send
 * 200 with an XML content type and then a space every `everyMs`; the final document (result or
 * `<Error>`) follows in the same body. `started` says whether the status line is already out.
 */
export function keepAliveWhitespace(
  res: ServerResponse,
  afterMs: number,
  everyMs = 5_000,
): { readonly started: boolean; stop(): void } {
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (!started) {
      started = true;
      res.writeHead(200, { "content-type": "application/xml" });
    }
    res.write(" ");
    timer = setTimeout(tick, everyMs);
  };
  if (afterMs <= 0) tick();
  else timer = setTimeout(tick, afterMs);
  return {
    get started() {
      return started;
    },
    stop: () => clearTimeout(timer),
  };
}

/** End a response whose 200 status and keep-alive spaces are already out with its XML document. */
export function endXml(res: ServerResponse, root: string, body: XmlNode, namespace = true): number {
  const text = toXml(root, body, { namespace });
  res.end(text);
  return Buffer.byteLength(text);
}
