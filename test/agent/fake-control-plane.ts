import { createHash, timingSafeEqual } from "node:crypto";
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import {
  type AgentMessage,
  AgentMessageSchema,
  type MaintenanceWindow,
  PROTOCOL_VERSION,
} from "@podkit/core";
import { WebSocketServer } from "ws";

/**
 * A minimal control plane for the agent's delivery test, written to docs/agent-protocol.md:
 * enrolment, the WebSocket with bearer auth, store-then-ack by message id (duplicates are acked
 * and ignored), host-state after register. Its store is a JSON-lines file so it survives a restart.
 * (The real control plane is apps/control-plane; this stands in until it lands on main.)
 */
export async function startFakeControlPlane(options: {
  port: number;
  storeFile: string;
  enrollmentToken: string;
  hostToken: string;
  rented?: boolean;
  windows?: MaintenanceWindow[];
}) {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  const tokenOk = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));
  const stored = new Map<string, AgentMessage>();
  if (existsSync(options.storeFile)) {
    for (const line of readFileSync(options.storeFile, "utf8").split("\n").filter(Boolean)) {
      const m = JSON.parse(line) as AgentMessage;
      stored.set(m.id, m);
    }
  }
  let duplicates = 0;
  let registrations = 0;
  const store = (m: AgentMessage) => {
    if (stored.has(m.id)) {
      duplicates++;
      return;
    }
    const fd = openSync(options.storeFile, "a");
    try {
      appendFileSync(fd, `${JSON.stringify(m)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    stored.set(m.id, m);
  };
  const envelope = (type: string, payload: unknown) =>
    JSON.stringify({
      v: PROTOCOL_VERSION,
      id: `cp-${Math.random().toString(36).slice(2, 12)}`,
      type,
      sentAt: new Date().toISOString(),
      payload,
    });

  const server: Server = createServer((req, res) => {
    if (req.method === "POST" && req.url === "/api/v1/agents/enroll") {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const { enrollmentToken } = JSON.parse(body) as { enrollmentToken: string };
        if (!tokenOk(enrollmentToken, options.enrollmentToken)) {
          res.writeHead(401).end();
          return;
        }
        res
          .writeHead(201, { "content-type": "application/json" })
          .end(JSON.stringify({ hostId: "host-1", hostToken: options.hostToken }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const auth = req.headers.authorization ?? "";
    if (req.url !== "/api/v1/agent/ws" || !tokenOk(auth, `Bearer ${options.hostToken}`)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data) => {
        const parsed = AgentMessageSchema.safeParse(JSON.parse(String(data)));
        if (!parsed.success) {
          ws.send(envelope("nack", { id: null, reason: parsed.error.message }));
          return;
        }
        const m = parsed.data;
        if (m.type === "register") {
          registrations++;
          ws.send(
            envelope("host-state", {
              hostId: "host-1",
              rented: options.rented ?? true,
              listing: { state: "listed", reasons: [], since: new Date().toISOString() },
              maintenanceWindows: options.windows ?? [],
            }),
          );
        }
        if (m.type !== "heartbeat" && m.type !== "register") store(m);
        ws.send(envelope("ack", { ids: [m.id] }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${options.port}`,
    stored,
    duplicates: () => duplicates,
    registrations: () => registrations,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}
