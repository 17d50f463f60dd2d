import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createLogger, type Logger, PodkitError, parseListen, type S3Credential } from "@podkit/core";
import { takeV8Collector } from "@podkit/core/gc";
import { authenticate } from "../auth/authenticate.js";
import { CredentialStore } from "../auth/credentials.js";
import { PosixBackend } from "../backend/posix/posix-backend.js";
import { isS3Error, type S3Error, s3ErrorFor, s3ErrorFromFs } from "../errors/s3-errors.js";
import { requireAccess } from "../ops/body.js";
import type { OpContext } from "../ops/context.js";
import { route } from "../ops/router.js";
import { DEFAULT_TIMEOUTS } from "./defaults.js";
import { IdleHeapTrim } from "./idle-heap-trim.js";
import { GatewayMetrics } from "./metrics.js";
import { parseS3Request, type S3Request } from "./request.js";
import { requestId, sendError } from "./respond.js";

export interface S3GatewayOptions {
  /** Directory whose top-level directories are the buckets (volumes). */
  root: string;
  /** `host:port`; port 0 picks a free one. Default 127.0.0.1:9000. */
  listen?: string;
  region?: string;
  credentials: S3Credential[];
  /** Enables virtual-host-style requests: `<bucket>.<domain>`. */
  domain?: string;
  /** Allow CreateBucket/DeleteBucket (otherwise AccessDenied: volumes come from the platform). */
  allowBucketAdmin?: boolean;
  /** `host:port` for Prometheus `/metrics`; not served when absent. */
  metricsListen?: string;
  /** Where object metadata lives; "auto" uses xattrs on each volume whose file system keeps them. */
  metadata?: "auto" | "xattr" | "sidecar";
  /** The access log (one line per request); false turns it off. Default: a pino logger on stderr. */
  accessLog?: Logger | false;
  /**
   * After this long, a CompleteMultipartUpload still assembling answers 200 and sends a space every
   * interval until the result (or the error) follows in the body, as S3 does, so clients' read
   * timeouts do not fire on big objects. Default 10 s; 0 starts at once.
   */
  completeKeepAliveMs?: number;
  /** Tolerated clock difference of signed requests (default 1 hour). */
  maxClockSkewMs?: number;
  /**
   * A connection must deliver a request's whole header within this long (slowloris); counted
   * from its first byte, or from the connection on a new one. Default 20 s.
   */
  headerTimeoutMs?: number;
  /**
   * A connection on which nothing moves this long during a request (a body that stops, a
   * response the client does not read) is dropped and its upload's temporary removed. Default 60 s.
   */
  idleTimeoutMs?: number;
  /** An idle keep-alive connection waits this long for its next request. Default 65 s. */
  keepAliveTimeoutMs?: number;
}

export { DEFAULT_TIMEOUTS };

/** Status the access log and metrics give a request whose client went away (nginx's 499). */
const CLIENT_CLOSED = 499;

export interface S3Gateway {
  /** `http://host:port` to give clients as their endpoint URL. */
  endpoint: string;
  metricsUrl?: string;
  /** This gateway's metrics (a worker hands them to its supervisor, which serves the sum). */
  metrics: GatewayMetrics;
  /**
   * Stop listening and end the connections. With `graceMs`, idle keep-alive connections close at
   * once and requests in flight get that long to finish (a drain); without it, everything ends now.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Sockets the gateway dropped for idling (told apart from clients that hung up themselves). */
const idledOut = new WeakSet<Socket>();

/** Why a request ended without its client: it hung up, or idled past the timeout; else undefined. */
function abortReason(req: IncomingMessage, res: ServerResponse): string | undefined {
  if (res.writableFinished) return undefined;
  if (idledOut.has(req.socket)) return "idle timeout";
  return req.socket.destroyed || res.destroyed ? "client closed the connection" : undefined;
}

function hostUrl(host: string, port: number): string {
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`;
}

/** Start an S3-compatible gateway over a directory of volumes; resolves once it listens. */
// Long: the gateway's wiring (backend, auth, router, server, shutdown) in order, each step short.
export async function startS3Gateway(options: S3GatewayOptions): Promise<S3Gateway> {
  const store = new CredentialStore(options.credentials);
  const backend = await PosixBackend.open({ root: options.root, metadata: options.metadata ?? "auto" });
  const settings = {
    region: options.region ?? "us-east-1",
    allowBucketAdmin: options.allowBucketAdmin ?? false,
    completeKeepAliveMs: options.completeKeepAliveMs ?? 10_000,
  };
  const log =
    options.accessLog === false ? undefined : (options.accessLog ?? createLogger({ name: "s3-gateway" }));
  const metrics = new GatewayMetrics();
  const maxSkewMs = options.maxClockSkewMs ?? 3600_000;

  const heapTrim = new IdleHeapTrim(takeV8Collector());
  const timeouts = {
    headerMs: options.headerTimeoutMs ?? DEFAULT_TIMEOUTS.headerMs,
    idleMs: options.idleTimeoutMs ?? DEFAULT_TIMEOUTS.idleMs,
    keepAliveMs: options.keepAliveTimeoutMs ?? DEFAULT_TIMEOUTS.keepAliveMs,
  };
  let inFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    inFlight += 1;
    heapTrim.requestStarted();
    // Re-armed per request: Node clears the socket timeout when a keep-alive socket starts one.
    req.socket.setTimeout(timeouts.idleMs);
    let aborted: string | undefined;
    res.setHeader("x-amz-request-id", requestId());
    res.setHeader("server", "podkit-s3");
    let op = "Unknown";
    let s3: S3Request | undefined;
    let ctx: OpContext | undefined;
    let bytesOut = 0;
    try {
      s3 = parseS3Request(req, options.domain);
      const auth = authenticate(
        { method: s3.method, rawPath: s3.rawPath, query: s3.query, header: s3.headerValues },
        store,
        { maxSkewMs, now: Date.now },
      );
      const chosen = route(s3);
      op = chosen.op;
      ctx = { req, res, s3, auth, backend, settings, received: 0 };
      if (s3.bucket !== undefined) requireAccess(ctx, s3.bucket);
      bytesOut = await chosen.handler(ctx);
    } catch (err) {
      aborted = abortReason(req, res);
      let failure: S3Error;
      if (aborted !== undefined) failure = s3ErrorFor("body-incomplete");
      else if (isS3Error(err)) failure = err;
      else {
        failure = s3ErrorFromFs(err, s3?.key !== undefined ? { key: s3.key } : {});
        if (failure.code === "InternalError") {
          log?.error({ err, op, bucket: s3?.bucket, key: s3?.key }, "s3 request failed");
        }
      }
      // Nothing can reach a client that has gone; its upload's temporary is already removed.
      if (aborted === undefined) bytesOut = sendError(req, res, failure, s3?.rawPath ?? req.url ?? "/");
    }
    const done = () => {
      inFlight -= 1;
      heapTrim.requestEnded();
      const ms = performance.now() - started;
      aborted ??= abortReason(req, res);
      const status = aborted !== undefined ? CLIENT_CLOSED : res.statusCode;
      metrics.observe(op, status, ms / 1000, ctx?.received ?? 0, bytesOut);
      log?.info(
        {
          method: req.method,
          op,
          bucket: s3?.bucket,
          key: s3?.key,
          status,
          ...(aborted !== undefined ? { aborted } : {}),
          bytesIn: ctx?.received ?? 0,
          bytesOut,
          ms: Math.round(ms * 10) / 10,
          access: ctx?.auth.credential.accessKeyId,
        },
        aborted !== undefined ? "s3 request aborted" : "s3 request",
      );
    };
    // A response whose connection already closed (the client left) will not emit "close" again.
    if (res.writableFinished || res.closed || res.destroyed) done();
    else res.once("close", done);
  };

  // Large uploads take as long as they take (no limit on a whole request), but a header must
  // arrive in time and a connection on which nothing moves is dropped.
  const server: Server = createServer(
    {
      requestTimeout: 0,
      headersTimeout: timeouts.headerMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // How often Node looks for overdue headers: a fraction of the limit, at most once a second.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headerMs / 4))),
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.setTimeout(timeouts.idleMs, (socket) => {
    idledOut.add(socket);
    socket.destroy();
  });
  // `Expect: 100-continue` (the AWS CLI sends it for big bodies): check the signature before
  // asking for the body, so a wrong key costs one round trip instead of a whole upload.
  // Node answers 417 to any Expect other than 100-continue, even an empty one, which S3
  // (and so some clients) treat as absent; only a real unknown expectation gets the 417.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    if ((req.headers.expect ?? "").trim() === "") {
      void handle(req, res);
      return;
    }
    res.writeHead(417, { "content-length": "0" });
    res.end();
  });
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    try {
      const s3 = parseS3Request(req, options.domain);
      authenticate(
        { method: s3.method, rawPath: s3.rawPath, query: s3.query, header: s3.headerValues },
        store,
        {
          maxSkewMs,
          now: Date.now,
        },
      );
    } catch (err) {
      res.setHeader("x-amz-request-id", requestId());
      res.setHeader("connection", "close");
      const failure = isS3Error(err) ? err : s3ErrorFor("unexpected");
      sendError(req, res, failure, req.url ?? "/");
      log?.info({ method: req.method, op: "Expect100", status: res.statusCode, ms: 0 }, "s3 request");
      return;
    }
    res.writeContinue();
    void handle(req, res);
  });
  const { host, port } = parseListen(options.listen ?? "127.0.0.1:9000", "--listen");
  await new Promise<void>((resolve, reject) => {
    // A taken or forbidden address is the user's to fix: a catalogued error, not a stack trace.
    const refuse = (err: Error) =>
      reject(new PodkitError("E_LISTEN", `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once("error", refuse);
    server.listen(port, host, () => {
      server.off("error", refuse);
      resolve();
    });
  });
  const endpoint = hostUrl(host, (server.address() as AddressInfo).port);
  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (options.metricsListen) {
    const m = parseListen(options.metricsListen, "--metrics-listen");
    const started = await metrics.listen(m.host, m.port);
    metricsServer = started.server;
    metricsUrl = started.url;
  }
  // What start-up left behind (modules loaded, the config and credentials checked) would stay
  // committed for as long as the gateway runs: one full collection once it listens gives it back.
  takeV8Collector()?.();
  return {
    endpoint,
    ...(metricsUrl ? { metricsUrl } : {}),
    metrics,
    close: async ({ graceMs = 0 } = {}) => {
      backend.etags.stop();
      const closing = [server, metricsServer].filter((s): s is Server => s !== undefined);
      const closed = closing.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      if (graceMs > 0) {
        server.closeIdleConnections();
        const deadline = Date.now() + graceMs;
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      }
      for (const s of closing) s.closeAllConnections();
      await Promise.all(closed);
    },
  };
}
