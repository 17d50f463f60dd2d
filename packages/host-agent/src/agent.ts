import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  type AgentEvent,
  type AgentMessage,
  createLogger,
  type HostSample,
  type Logger,
  PROTOCOL_VERSION,
} from "@podkit/core";
import { type GpuSource, NvidiaSmiSource, SimulatedGpuSource } from "./collectors/gpu.js";
import { HostCollector } from "./collectors/host.js";
import { type KernelLine, KernelLogFollower } from "./collectors/kernel-log.js";
import { resolveHostToken } from "./enroll.js";
import { evaluateHealth, type HealthReport, type ListedGpu } from "./health.js";
import { buildMachineInfo, readBootId } from "./machine.js";
import { AgentMetrics } from "./metrics.js";
import { KernelLogParser } from "./parse/kernel-log.js";
import type { GpuReadingWithMeta } from "./parse/reading.js";
import { loadXidCatalog } from "./parse/xid-catalog.js";
import { Backoff } from "./report/backoff.js";
import { ControlPlaneConnection, type HostState } from "./report/connection.js";
import { newMessageId, stableMessageId } from "./report/ids.js";
import { Outbox } from "./report/outbox.js";
import { readJsonFile, writeFileAtomic } from "./state-files.js";
import type { AgentStatus } from "./status.js";
import { classifyKernelError, XidTracker } from "./xid.js";

export interface StartAgentOptions {
  stateDir: string;
  /** `host:port`, port 0 for an ephemeral one. Default 127.0.0.1:9101. */
  metricsListen?: string;
  controlPlane?: string;
  /** `pke_…` enrolment token (used once) or `pkh_…` host token. */
  token?: string;
  /** A GPU source; otherwise `simulate` or nvidia-smi at `nvidiaSmiPath`. */
  gpuSource?: GpuSource;
  nvidiaSmiPath?: string;
  /** Replay a recorded capture instead of reading hardware (clearly labelled as simulated). */
  simulate?: string;
  /** Kernel log to follow: `/dev/kmsg` (default), a file, "journalctl", or null to not follow one. */
  kmsgPath?: string | null;
  gpuIntervalMs?: number;
  hostIntervalMs?: number;
  reportIntervalMs?: number;
  heartbeatIntervalMs?: number;
  pingIntervalMs?: number;
  /** Upper bound of the reconnect backoff (default 30 s). */
  reconnectMaxMs?: number;
  collectorTimeoutMs?: number;
  disks?: string[];
  logger?: Logger;
  /** Run after each GPU cycle; `podkit agent run` passes `tuneHeapForDaemon().compact`. */
  compactHeap?: () => void;
}

export interface AgentHandle {
  metricsUrl: string;
  stateDir: string;
  /** Run one GPU + host collection and health evaluation now (tests, benchmarks). */
  collectNow(): Promise<void>;
  status(): AgentStatus;
  close(): Promise<void>;
}

const STATUS_FILE = "status.json";
const HOST_STATE_FILE = "host-state.json";
const LISTED_FILE = "listed-gpus.json";
const KERNEL_CURSOR_FILE = "kernel-log-cursor.json";

/** Resolves within `ms` even if the work never does (a hung collector must not stall the loop). */
function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?:)?(\d+)$/.exec(listen);
  if (!m) throw new Error(`--metrics-listen ${listen} is not host:port`);
  return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
}

/**
 * Start the host agent: collectors on their own intervals, health, Prometheus metrics, the
 * durable outbox and (with a control plane) the WebSocket reporter. Resolves once the metrics
 * endpoint listens and the first collection has run.
 */
export async function startAgent(options: StartAgentOptions): Promise<AgentHandle> {
  const logger = options.logger ?? createLogger({ name: "podkit-agent" });
  const stateDir = options.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const startedAt = new Date().toISOString();
  const bootId = readBootId();
  const metrics = new AgentMetrics();
  const source =
    options.gpuSource ??
    (options.simulate
      ? new SimulatedGpuSource(options.simulate)
      : new NvidiaSmiSource({ path: options.nvidiaSmiPath, timeoutMs: options.collectorTimeoutMs, logger }));
  if (source.simulated)
    logger.warn({ source: source.description }, "GPU data is SIMULATED, not read from hardware");
  const hostCollector = new HostCollector({ disks: options.disks });
  const outbox = new Outbox(join(stateDir, "outbox"));
  const catalog = loadXidCatalog();
  const tracker = new XidTracker();
  const timeoutMs = options.collectorTimeoutMs ?? 10_000;

  let listed = readJsonFile<ListedGpu[]>(join(stateDir, LISTED_FILE));
  let hostState = readJsonFile<HostState>(join(stateDir, HOST_STATE_FILE));
  let reading: GpuReadingWithMeta | null = null;
  let host: HostSample | null = null;
  let health: HealthReport | null = null;
  let lastHealthKey = "";
  const announcedLost = new Set<string>();
  let connection: ControlPlaneConnection | null = null;
  let hostId: string | null = null;
  let metricsUrl = "";

  const envelope = <T extends AgentMessage["type"]>(type: T, id: string, payload: unknown) =>
    ({ v: PROTOCOL_VERSION, id, type, sentAt: new Date().toISOString(), payload }) as AgentMessage;
  const enqueue = (m: AgentMessage) => {
    outbox.enqueue(m);
    metrics.outboxPending.set(outbox.size);
    connection?.kick();
  };
  const event = (e: AgentEvent, id = newMessageId("evt")) => enqueue(envelope("event", id, e));

  const uuidByBus = () => new Map((reading?.gpus ?? []).map((g) => [g.pciBusId, g.uuid]));

  const evaluate = () => {
    if (!reading) return;
    const report = evaluateHealth({
      now: new Date(),
      listed,
      reading,
      xids: tracker.current(new Date(), uuidByBus()),
      previous: health,
      ...(reading.extras
        ? {
            nvlinkActiveLinks: Object.fromEntries(
              Object.entries(reading.extras.nvlink).map(([i, n]) => [i, n.activeLinks]),
            ),
          }
        : {}),
    });
    health = report;
    metrics.updateHealth(report, listed?.length ?? null);
    const key = JSON.stringify([
      report.machine.state,
      report.machine.reasons.map((r) => `${r.code}:${r.gpuIndex ?? ""}`),
    ]);
    if (key !== lastHealthKey) {
      lastHealthKey = key;
      enqueueHealth();
    }
    for (const r of report.machine.reasons) {
      if (r.code !== "GPU_MISSING" || r.gpuIndex === undefined) continue;
      const gone = listed?.find((l) => l.index === r.gpuIndex);
      const lostKey = `${gone?.uuid ?? r.gpuIndex}`;
      if (announcedLost.has(lostKey)) continue;
      announcedLost.add(lostKey);
      event(
        {
          kind: "gpu-lost",
          pciBusId: gone?.pciBusId ?? null,
          gpuIndex: r.gpuIndex,
          evidence: r.evidence ?? r.message,
        },
        stableMessageId("lost", bootId, lostKey),
      );
    }
    for (const key of [...announcedLost]) {
      if (reading.gpus.some((g) => g.uuid === key)) announcedLost.delete(key);
    }
  };

  const enqueueHealth = () => {
    if (!health) return;
    enqueue(
      envelope("health", newMessageId("health"), {
        machine: health.machine,
        gpus: health.gpus.map((g) => ({ index: g.index, verdict: g.verdict })),
      }),
    );
  };

  const collectGpus = async () => {
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      reading = await withDeadline(
        source.read(listed?.map((l) => l.index) ?? []),
        timeoutMs + 2000,
        "GPU collector",
      );
      ok = reading.failure === null && reading.problems.length === 0;
    } catch (err) {
      reading = {
        gpus: [],
        failure: {
          kind: "timeout",
          code: "GPU_COLLECTOR_TIMEOUT",
          message: (err as Error).message,
          evidence: (err as Error).message,
        },
        problems: [],
        at: new Date().toISOString(),
        driverVersion: reading?.driverVersion ?? null,
        cudaVersion: reading?.cudaVersion ?? null,
      };
    }
    metrics.recordCollector("gpu", ok, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.updateGpus(reading.gpus, { ...reading, simulated: source.simulated });
    metrics.updateExtras(reading.gpus, reading.extras);
    // The first complete reading is what the machine is listed with (a later loss is then visible).
    if (!listed && ok && reading.gpus.length > 0) {
      listed = reading.gpus.map((g) => ({
        index: g.index,
        uuid: g.uuid,
        pciBusId: g.pciBusId,
        name: g.name,
      }));
      writeFileAtomic(join(stateDir, LISTED_FILE), JSON.stringify(listed, null, 2));
    }
    evaluate();
  };

  const collectHost = () => {
    const started = process.hrtime.bigint();
    try {
      host = hostCollector.collect();
      metrics.updateHost(host);
      metrics.recordCollector("host", true, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "host collector failed");
      metrics.recordCollector("host", false, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };

  const status = (): AgentStatus => ({
    pid: process.pid,
    startedAt,
    updatedAt: new Date().toISOString(),
    metricsUrl,
    gpuSource: { simulated: source.simulated, description: source.description },
    machine: {
      hostname: host?.hostname ?? "",
      driverVersion: reading?.driverVersion ?? null,
      cudaVersion: reading?.cudaVersion ?? null,
      health: health?.machine ?? { state: "degraded", reasons: [], at: startedAt },
    },
    gpus: (reading?.gpus ?? []).map((g) => ({
      ...g,
      health: health?.gpus.find((h) => h.index === g.index)?.verdict ?? {
        state: "degraded",
        reasons: [],
        at: startedAt,
      },
      nvlinkActiveLinks: reading?.extras?.nvlink[g.index]?.activeLinks ?? null,
      migDevices: reading?.extras?.migInstances[g.pciBusId] ?? null,
    })),
    topology: reading?.extras?.topology ?? null,
    listedGpuCount: listed?.length ?? null,
    hostId: hostState?.hostId ?? hostId,
    rented: hostState?.rented ?? null,
    listing: hostState?.listing ?? null,
    maintenanceWindows: hostState?.maintenanceWindows ?? [],
    controlPlane:
      connection && options.controlPlane
        ? { ...connection.status, url: options.controlPlane, outboxMessages: outbox.size }
        : null,
  });
  const writeStatus = () => writeFileAtomic(join(stateDir, STATUS_FILE), JSON.stringify(status(), null, 2));

  // Kernel log: classify every NVIDIA error; report each new one once (stable id + cursor).
  const kernelParser = new KernelLogParser();
  const cursorFile = join(stateDir, KERNEL_CURSOR_FILE);
  const savedCursor = readJsonFile<{ bootId: string; path: string; stream: string; position: number }>(
    cursorFile,
  );
  const kmsgPath = options.kmsgPath === undefined ? "/dev/kmsg" : options.kmsgPath;
  let cursor =
    savedCursor && savedCursor.bootId === bootId && savedCursor.path === kmsgPath ? savedCursor : null;
  const onKernelLines = (lines: KernelLine[]) => {
    const busToIndex = new Map<string, number>();
    for (const g of reading?.gpus ?? []) busToIndex.set(g.pciBusId, g.index);
    for (const l of listed ?? []) if (!busToIndex.has(l.pciBusId)) busToIndex.set(l.pciBusId, l.index);
    let newest = cursor;
    let changed = false;
    for (const line of lines) {
      for (const err of kernelParser.feed(line.text)) {
        const xid = classifyKernelError(err, catalog, busToIndex, new Date().toISOString());
        metrics.recordXid(xid);
        tracker.record(xid, xid.pciBusId ? (uuidByBus().get(xid.pciBusId) ?? null) : null);
        changed = true;
        // Report each record once: skip what an earlier run of this boot already put in the outbox.
        const cut = line.position.lastIndexOf(":");
        const stream = line.position.slice(0, cut);
        const position = Number(line.position.slice(cut + 1));
        const numbered = Number.isFinite(position);
        if (numbered && cursor && cursor.stream === stream && position <= cursor.position) continue;
        event({ kind: "xid", xid }, stableMessageId("xid", bootId, kmsgPath ?? "", line.position));
        if (numbered && (!newest || newest.stream !== stream || position > newest.position)) {
          newest = { bootId, path: kmsgPath ?? "", stream, position };
        }
      }
    }
    if (newest && newest !== cursor) {
      cursor = newest;
      writeFileAtomic(cursorFile, JSON.stringify(newest));
    }
    if (changed) evaluate();
  };
  const follower = kmsgPath
    ? new KernelLogFollower({
        path: kmsgPath,
        onLines: onKernelLines,
        onError: (err) => logger.warn({ err: err.message, path: kmsgPath }, "cannot read the kernel log"),
      })
    : null;

  // First collection before anything is served, so the first scrape already has GPUs.
  collectHost();
  await collectGpus();
  follower?.start();

  const { host: listenHost, port } = parseListen(options.metricsListen ?? "127.0.0.1:9101");
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
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
    server.listen(port, listenHost, () => resolve());
  });
  const address = server.address() as AddressInfo;
  metricsUrl = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/metrics`;

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => unknown) => {
    let running = false;
    const t = setInterval(async () => {
      if (running) return; // never overlap a slow run with the next one
      running = true;
      try {
        await fn();
      } catch (err) {
        logger.error({ err: (err as Error).message }, "agent loop error");
      } finally {
        running = false;
      }
    }, ms);
    timers.push(t);
  };
  every(options.gpuIntervalMs ?? 10_000, async () => {
    await collectGpus();
    writeStatus();
    options.compactHeap?.();
  });
  every(options.hostIntervalMs ?? 10_000, collectHost);
  // Periodic samples are for a control plane; standalone they would pile up in the outbox for
  // ever (one file per 15 s). Health changes and events are still queued: they are facts.
  if (options.controlPlane)
    every(options.reportIntervalMs ?? 15_000, () => {
      if (host) enqueue(envelope("telemetry", newMessageId("tel"), { host, gpus: reading?.gpus ?? [] }));
      enqueueHealth();
    });

  if (options.controlPlane) {
    const machineInfo = () => buildMachineInfo(reading, host, source);
    const credentials = await resolveHostToken({
      controlPlane: options.controlPlane,
      token: options.token,
      stateDir,
      machineInfo: machineInfo(),
      logger,
    });
    hostId = credentials.hostId;
    connection = new ControlPlaneConnection({
      controlPlane: options.controlPlane,
      hostToken: credentials.hostToken,
      outbox,
      machineInfo,
      logger,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      pingIntervalMs: options.pingIntervalMs,
      backoff: new Backoff(500, options.reconnectMaxMs ?? 30_000),
      retryBackoff: new Backoff(1000, options.reconnectMaxMs ?? 30_000),
      onRejected: () => metrics.outboxRejected.inc(),
      onHostState: (s) => {
        hostState = s;
        writeFileAtomic(join(stateDir, HOST_STATE_FILE), JSON.stringify(s, null, 2));
        writeStatus();
      },
      onStatus: (s) => {
        metrics.connected.set(s.connected ? 1 : 0);
        metrics.reconnects.set(s.reconnects);
        metrics.outboxPending.set(outbox.size);
        if (s.lastHeartbeatAt) metrics.lastHeartbeat.set(Date.parse(s.lastHeartbeatAt) / 1000);
        if (s.lastAckAt) metrics.lastAck.set(Date.parse(s.lastAckAt) / 1000);
      },
    });
    connection.start();
  }
  metrics.connected.set(0);
  writeStatus();
  logger.info(
    {
      metricsUrl,
      stateDir,
      gpus: (reading as GpuReadingWithMeta | null)?.gpus.length ?? 0,
      simulated: source.simulated,
    },
    "podkit agent running",
  );

  return {
    metricsUrl,
    stateDir,
    async collectNow() {
      collectHost();
      await collectGpus();
      writeStatus();
      options.compactHeap?.();
    },
    status,
    async close() {
      for (const t of timers) clearInterval(t);
      follower?.close();
      await connection?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
