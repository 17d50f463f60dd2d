import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  createLogger,
  isPodkitError,
  type Logger,
  PodkitError,
  parseListen,
  UnavailableError,
} from "@podkit/core";
import Fastify, { type FastifyInstance } from "fastify";
import { resolveAdminToken } from "./auth/admin-token.js";
import { RetryLaterError, sendError } from "./errors.js";
import { HostChanges } from "./fleet/changes.js";
import { Fleet } from "./fleet/fleet.js";
import { Judge } from "./fleet/judge.js";
import { Operations } from "./fleet/operations.js";
import { FleetViews } from "./fleet/views.js";
import { registerApi } from "./http/api.js";
import { isAdmin, presentedAdminToken, refuseApi } from "./http/auth.js";
import { registerDashboard } from "./http/dashboard.js";
import { registerMetrics } from "./http/metrics.js";
import { AgentGateway } from "./ingest/agent-ws.js";
import { Ingest } from "./ingest/ingest.js";
import { startChangeFeed } from "./store/change-feed.js";
import { type DatabaseTimeouts, openDatabase } from "./store/open.js";

export interface ControlPlaneOptions {
  /** `host:port` (port 0 picks a free one). Default 127.0.0.1:8080. */
  listen?: string;
  /** A SQLite file path or a `postgres://` URL. Default: DATA_DIR/control-plane.sqlite. */
  db?: string;
  /** Where the SQLite file and the generated admin token live. */
  dataDir?: string;
  /** Default: PODKIT_ADMIN_TOKEN is read by the CLI; here, the one in DATA_DIR or a new one. */
  adminToken?: string;
  /** No message for this long and a host is offline (default 60 s: a minute without heartbeat). */
  offlineAfterMs?: number;
  /** How often hosts are re-judged for time-based rules (maintenance coming, offline, reliability). */
  sweepIntervalMs?: number;
  /** Maintenance above this share of 30 days is reported as excessive (default 0.1). */
  maxMaintenanceShare?: number;
  /** One chart sample per host per this many ms (default 60 s). */
  sampleEveryMs?: number;
  /** Serve /metrics without the admin token (for a Prometheus on a trusted network). */
  publicMetrics?: boolean;
  /** Ping every agent socket this often; one that misses a pong by the next ping is dropped (default 15 s). */
  pingIntervalMs?: number;
  /**
   * The longest any HTTP request waits for its answer (default 15 s): past it, 503 with
   * Retry-After, whatever the database is doing. Above the database deadlines on purpose.
   */
  requestTimeoutMs?: number;
  /** Statement, connection-acquisition and lock-wait limits (defaults in `store/open.ts`). */
  dbTimeouts?: DatabaseTimeouts;
  /** The time, for tests that move it; default Date.now. */
  clock?: () => number;
  logger?: Logger;
}

export interface ControlPlaneHandle {
  url: string;
  adminToken: string;
  /** Where the generated admin token is kept, or null when it was given. */
  adminTokenFile: string | null;
  db: string;
  createEnrollmentToken(ttlMs?: number): Promise<{ token: string; expiresAt: string }>;
  /** Re-judge every host now (the periodic sweep, on demand). */
  sweep(): Promise<void>;
  /** Wait until every received agent message is stored. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "podkit", "control-plane");
}

/** Start the control plane: store (migrated), API, agent WebSocket, dashboard and metrics. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlaneHandle> {
  const log = options.logger ?? createLogger({ name: "control-plane" });
  // A bad address is refused before anything is opened.
  const { host, port } = parseListen(options.listen ?? "127.0.0.1:8080", "--listen");
  const dataDir = options.dataDir ?? defaultDataDir();
  const dbTarget = options.db ?? join(dataDir, "control-plane.sqlite");
  const admin = resolveAdminToken(options.adminToken, dataDir);
  const clock = options.clock ?? Date.now;
  const store = await openDatabase(dbTarget, (err, what) => log.warn({ err: err.message }, what), {
    timeouts: options.dbTimeouts,
    // One line per outage, not one per failed message: agents are answered "retry later" meanwhile.
    onAvailability: (state, snapshot, err) => {
      if (state === "down")
        log.error(
          { err: (err as Error)?.message, db: store?.description },
          "database unavailable: API answers 503, agents are told to retry later; probing every second",
        );
      else
        log.warn(
          { downSince: snapshot.since, lastError: snapshot.lastError },
          "database available again; storing agent messages",
        );
    },
  });
  const availability = store.availability;
  const settings = {
    offlineAfterMs: options.offlineAfterMs ?? 60_000,
    maxMaintenanceShare: options.maxMaintenanceShare ?? 0.1,
  };
  const db = store.db;
  // Each part gets what it uses, nothing more: the store, the clock, its settings and its peers.
  const changes = new HostChanges();
  const judge = new Judge(db, clock, settings);
  const fleet = new Fleet(db, clock, judge);
  const views = new FleetViews(db, clock, settings);
  const ops = new Operations(db, clock, settings.maxMaintenanceShare, judge, changes);
  const ingest = new Ingest(
    db,
    clock,
    {
      sampleEveryMs: options.sampleEveryMs ?? 60_000,
      maxBatch: 1000,
      // SQLite has a single writer; PostgreSQL commits several batches at once (the pool holds 10).
      lanes: store.kind === "postgres" ? 4 : 1,
      offlineAfterMs: settings.offlineAfterMs,
    },
    judge,
    changes,
    availability,
  );
  const gateway = new AgentGateway(fleet, ingest, db, clock, log, options.pingIntervalMs);
  changes.on((ids) => void gateway.pushStates(ids));
  // Replicas on one PostgreSQL tell each other about changed hosts, so their agents hear at once.
  const feed =
    store.kind === "postgres"
      ? await startChangeFeed(
          dbTarget,
          (ids) => void gateway.pushStates(ids),
          log,
          // Back after its listening connection was down: what changed meanwhile is read again.
          () => void gateway.pushStates("connected"),
        ).catch(async (err) => {
          await store.close();
          throw err;
        })
      : null;
  if (feed) {
    changes.on((ids) =>
      feed
        .publish(ids)
        .catch((err: Error) =>
          log.warn({ err: err.message }, "could not tell other replicas about a change"),
        ),
    );
  }

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
  // A request that needs several queries can add their deadlines up; the client waits for one.
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  app.addHook("onRequest", async (_req, reply) => {
    const timer = setTimeout(() => {
      if (reply.sent) return;
      sendError(
        reply.header("retry-after", retryAfterSeconds(2000)),
        new UnavailableError(
          `no answer within ${requestTimeoutMs} ms (the database is slow or away); try again shortly`,
        ),
      );
    }, requestTimeoutMs);
    timer.unref();
    reply.raw.once("close", () => clearTimeout(timer));
  });
  app.addHook("onRequest", async (req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    if (path === "/healthz" || path === "/readyz") return;
    // Every other path reads the database: while it is away, say so at once instead of hanging.
    if (availability.state === "down") {
      return sendError(
        reply.header("retry-after", retryAfterSeconds(2000)),
        new PodkitError("E_UNAVAILABLE", "the control plane's database is unavailable; try again shortly", {
          details: { database: availability.snapshot() },
        }),
      );
    }
    if (path === "/api/v1/agents/enroll") return;
    if (path === "/metrics" && options.publicMetrics) return;
    if (path.startsWith("/api/") || path === "/metrics") {
      if (!isAdmin(req, admin.token)) return refuseApi(reply, presentedAdminToken(req) !== null);
    }
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof RetryLaterError || availability.observe(err) !== null) {
      const wait = err instanceof RetryLaterError ? err.retryAfterMs : 2000;
      return sendError(
        reply.header("retry-after", retryAfterSeconds(wait)),
        new UnavailableError(
          `the control plane's database is unavailable (${(err as Error).message}); try again shortly`,
        ),
      );
    }
    if (isPodkitError(err)) return sendError(reply, err);
    // Fastify's own 4xx (a body too large, a wrong content type) keep their status.
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return sendError(reply, new PodkitError("E_INVALID_INPUT", (err as Error).message), status);
    }
    log.error({ err, url: req.url }, "request failed");
    return sendError(reply, new PodkitError("E_INTERNAL", "internal error; see the control plane's log"));
  });
  // Liveness: the process answers (a load balancer must not restart it for a database outage).
  app.get("/healthz", async () => ({ ok: true, db: store.kind, database: availability.snapshot() }));
  // Readiness: take this replica out of rotation while its database is away.
  app.get("/readyz", async (_req, reply) => {
    const database = availability.snapshot();
    const ready = database.state !== "down";
    if (!ready) reply.header("retry-after", retryAfterSeconds(2000));
    return reply.code(ready ? 200 : 503).send({ ready, db: store.kind, database });
  });
  const services = { fleet, judge, views, ops, clock };
  registerApi(app, services);
  registerMetrics(app, views, () => gateway.connectedHosts);
  registerDashboard(app, services, admin.token);
  app.server.on("upgrade", (req, socket, head) => {
    if (!gateway.handleUpgrade(req, socket, head)) socket.destroy();
  });

  let prunedAt = 0;
  const sweep = async () => {
    changes.notify(await judge.sweep());
    if (clock() - prunedAt > 3_600_000) {
      prunedAt = clock();
      await fleet.prune();
    }
    await gateway.pushStates("connected");
  };
  let sweeping: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = sweep()
      .catch((err: Error) => {
        // A database outage is logged once by the availability breaker.
        if (availability.observe(err) === null) log.error({ err: err.message }, "sweep failed");
      })
      .finally(() => {
        sweeping = null;
      });
  }, options.sweepIntervalMs ?? 15_000);
  timer.unref();

  try {
    await app.listen({ host, port });
  } catch (err) {
    clearInterval(timer);
    await feed?.close();
    await store.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${hostPart}:${address.port}`;
  log.info({ url, db: store.description }, "control plane listening");
  await sweep();

  return {
    url,
    adminToken: admin.token,
    adminTokenFile: admin.file,
    db: store.description,
    createEnrollmentToken: (ttlMs = 24 * 3_600_000) => fleet.createEnrollmentToken(ttlMs),
    sweep: async () => {
      while (sweeping) await sweeping;
      await sweep();
    },
    drain: () => ingest.idle(),
    close: async () => {
      clearInterval(timer);
      while (sweeping) await sweeping;
      // Messages arriving from now on are answered "retry later" (SHUTTING_DOWN): the agents keep them.
      await ingest.close();
      await gateway.close();
      await app.close();
      await feed?.close();
      await store.close();
    },
  };
}
