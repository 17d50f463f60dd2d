import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseListen } from "@podkit/core";
import type { Registry } from "prom-client";

export interface AgentHttpServer {
  /** `http://host:port/metrics`. */
  metricsUrl: string;
  close(): Promise<void>;
}

/** `/metrics` (Prometheus exposition) and `/status` (what `podkit agent status --json` prints). */
export async function serveAgentHttp(
  listen: string,
  registry: Registry,
  status: () => unknown,
): Promise<AgentHttpServer> {
  const { host, port } = parseListen(listen, "--metrics-listen");
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
    } else if (req.method === "GET" && req.url === "/status") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(status()));
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: try /metrics or /status\n");
    }
  });
  // Scrapers keep connections open between scrapes; outlast their idle timers so a request never
  // races the server closing an idle socket (undici reads the keep-alive hint and leaves first).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const metricsUrl = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/metrics`;
  return {
    metricsUrl,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
