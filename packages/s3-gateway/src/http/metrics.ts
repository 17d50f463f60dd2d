import { createServer, type Server } from "node:http";
import { Counter, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one gateway (its own registry, so several gateways can share a process). */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "podkit_s3_requests_total",
    help: "S3 requests answered, by operation and HTTP status.",
    labelNames: ["op", "status"],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "podkit_s3_request_duration_seconds",
    help: "Time to answer an S3 request, by operation.",
    labelNames: ["op"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  private readonly received = new Counter({
    name: "podkit_s3_received_bytes_total",
    help: "Object payload bytes received (PUT, UploadPart).",
    registers: [this.registry],
  });
  private readonly sent = new Counter({
    name: "podkit_s3_sent_bytes_total",
    help: "Response body bytes sent.",
    registers: [this.registry],
  });

  observe(op: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.requests.inc({ op, status: String(status) });
    this.duration.observe({ op }, seconds);
    if (bytesIn > 0) this.received.inc(bytesIn);
    if (bytesOut > 0) this.sent.inc(bytesOut);
  }

  /** Serve GET /metrics on its own listener, away from the S3 port. */
  listen(host: string, port: number): Promise<{ server: Server; url: string }> {
    return listenMetrics(host, port, async () => ({
      text: await this.registry.metrics(),
      contentType: this.registry.contentType,
    }));
  }
}

/** An HTTP listener that answers GET /metrics with what `render` gives (404 for anything else). */
export async function listenMetrics(
  host: string,
  port: number,
  render: () => Promise<{ text: string; contentType: string }>,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/metrics") {
      render().then(
        ({ text, contentType }) => {
          res.writeHead(200, { "content-type": contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("only /metrics is served here\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  return { server, url: `http://${host.includes(":") ? `[${host}]` : host}:${actual}/metrics` };
}
