import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLogger, type HostSample, type Logger } from "@podkit/core";
import { Registry } from "prom-client";
import { buildAgentStatus } from "./agent-status.js";
import { type GpuSource, NvidiaSmiSource, SimulatedGpuSource } from "./collectors/gpu.js";
import type { KernelLogReading } from "./collectors/kernel-log-collector.js";
import { createCollectors } from "./collectors/registry.js";
import { controlPlaneBaseUrl } from "./control-plane-url.js";
import { HealthMonitor } from "./health-monitor.js";
import { serveAgentHttp } from "./http-server.js";
import { buildMachineInfo, readBootId } from "./machine.js";
import type { GpuReadingWithMeta } from "./parse/reading.js";
import { Reporting } from "./reporting.js";
import { Scheduler } from "./scheduler.js";
import { writeFileAtomic } from "./state-files.js";
import type { AgentStatus } from "./status.js";

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
  /** WebSocket ping to the control plane; no pong by the next one and the link is dropped (default 15 s). */
  pingIntervalMs?: number;
  /** Upper bound of the reconnect backoff (default 30 s). */
  reconnectMaxMs?: number;
  collectorTimeoutMs?: number;
  disks?: string[];
  logger?: Logger;
  /** Run after each GPU cycle; `podkit agent run` passes `tuneHeapForDaemon().compact`. */
  compactHeap?: () => void;
  /**
   * Aborting it (SIGTERM) cuts the start short: runs in progress are aborted and their commands
   * killed, enrolment stops retrying; the handle then only needs `close()`.
   */
  signal?: AbortSignal;
}

export interface AgentHandle {
  metricsUrl: string;
  stateDir: string;
  /** Run one GPU + host collection and health evaluation now (tests, benchmarks). */
  collectNow(): Promise<void>;
  status(): AgentStatus;
  /** Stop: runs in progress are aborted (a hung nvidia-smi is killed), then sockets close. Idempotent. */
  close(): Promise<void>;
}

const STATUS_FILE = "status.json";

/** The agent's parts, wired: readings flow from the scheduler into health and reports. */
function assemble(options: StartAgentOptions, logger: Logger, onHostState: () => void) {
  const { stateDir } = options;
  const bootId = readBootId();
  // No prom-client default metrics: their names fail `promtool check metrics`.
  const registry = new Registry();
  const source =
    options.gpuSource ??
    (options.simulate
      ? new SimulatedGpuSource(options.simulate)
      : new NvidiaSmiSource({ path: options.nvidiaSmiPath, timeoutMs: options.collectorTimeoutMs, logger }));
  if (source.simulated)
    logger.warn({ source: source.description }, "GPU data is SIMULATED, not read from hardware");
  const gpuReading = (): GpuReadingWithMeta | null => scheduler.latest<GpuReadingWithMeta>("gpu");
  const hostSample = (): HostSample | null => scheduler.latest<HostSample>("host");
  const reporting = new Reporting({
    stateDir,
    registry,
    logger,
    ...(options.controlPlane ? { controlPlane: controlPlaneBaseUrl(options.controlPlane) } : {}),
    token: options.token,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    pingIntervalMs: options.pingIntervalMs,
    reconnectMaxMs: options.reconnectMaxMs,
    onHostState,
  });
  const health: HealthMonitor = new HealthMonitor({
    stateDir,
    bootId,
    registry,
    gpuReading,
    onChange: (report) => {
      logger.info(
        { state: report.machine.state, reasons: report.machine.reasons.map((r) => r.code) },
        "machine health changed",
      );
      reporting.health(report);
    },
    onGpuLost: (event, id) => reporting.event(event, id),
  });
  const scheduler: Scheduler = new Scheduler(
    createCollectors({
      ...options,
      stateDir,
      bootId,
      logger,
      gpuSource: source,
      kmsgPath: options.kmsgPath === undefined ? "/dev/kmsg" : options.kmsgPath,
      listedIndexes: (): number[] => health.listed?.map((l) => l.index) ?? [],
      gpuIndexByBusId: () => health.gpuIndexByBusId(),
    }),
    registry,
    logger,
  );
  scheduler.on<GpuReadingWithMeta>("gpu", (r) => health.gpuRead(r));
  // No kernel-log collector without a kernel log (kmsgPath null, e.g. `podkit up` on a simulation).
  if (scheduler.has("kernel-log")) {
    scheduler.on<KernelLogReading>("kernel-log", (r) => {
      for (const e of r.errors) if (e.reportId) reporting.event({ kind: "xid", xid: e.xid }, e.reportId);
      health.xidsSeen(r.errors.map((e) => e.xid));
    });
  }
  return { registry, source, reporting, health, scheduler, gpuReading, hostSample };
}

/**
 * Start the host agent: collectors on their own schedules (`collectors/registry.ts`), health,
 * Prometheus metrics, the durable outbox and (with a control plane) the WebSocket reporter.
 * The metrics endpoint listens at once (collectors not yet read show 0 runs); resolves once the
 * first collection has run and, with a control plane, the host token is known.
 */
export async function startAgent(options: StartAgentOptions): Promise<AgentHandle> {
  const logger = options.logger ?? createLogger({ name: "podkit-agent" });
  const { stateDir } = options;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const startedAt = new Date().toISOString();
  let metricsUrl = "";
  const { registry, source, reporting, health, scheduler, gpuReading, hostSample } = assemble(
    options,
    logger,
    () => writeStatus(),
  );
  const status = (): AgentStatus =>
    buildAgentStatus({
      startedAt,
      metricsUrl,
      gpuSource: { simulated: source.simulated, description: source.description },
      gpu: gpuReading(),
      host: hostSample(),
      health: health.current,
      listedGpuCount: health.listed?.length ?? null,
      hostId: reporting.hostId,
      hostState: reporting.hostState,
      controlPlane: reporting.status(),
    });
  const writeStatus = () => writeFileAtomic(join(stateDir, STATUS_FILE), JSON.stringify(status(), null, 2));
  scheduler.on("gpu", () => {
    writeStatus();
    options.compactHeap?.();
  });

  const http = await serveAgentHttp(options.metricsListen ?? "127.0.0.1:9101", registry, status);
  metricsUrl = http.metricsUrl;
  logger.info({ metricsUrl }, "metrics endpoint listening");
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      reporting.stopTelemetry();
      scheduler.stop();
      await scheduler.settled();
      await reporting.close();
      await http.close();
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => scheduler.stop(), { once: true });

  // The first collection before the handle is returned, so a caller's first scrape has GPUs.
  await scheduler.runAll();
  scheduler.start();
  reporting.startTelemetry(options.reportIntervalMs ?? 15_000, () => ({
    host: hostSample(),
    gpus: gpuReading()?.gpus ?? [],
    health: health.current,
  }));
  try {
    await reporting.connect(() => buildMachineInfo(gpuReading(), hostSample(), source), options.signal);
  } catch (err) {
    if (!options.signal?.aborted) {
      await close();
      throw err;
    }
  }
  writeStatus();
  logger.info(
    { metricsUrl, stateDir, gpus: gpuReading()?.gpus.length ?? 0, simulated: source.simulated },
    "podkit agent running",
  );
  return {
    metricsUrl,
    stateDir,
    async collectNow() {
      await scheduler.run("host");
      await scheduler.run("gpu");
    },
    status,
    close,
  };
}
