import { join } from "node:path";
import {
  type AgentEvent,
  type AgentMessage,
  Backoff,
  type GpuSample,
  type HostSample,
  type Logger,
  type MachineInfo,
  PROTOCOL_VERSION,
} from "@podkit/core";
import { Counter, Gauge, type Registry } from "prom-client";
import { resolveHostToken } from "./enroll.js";
import type { HealthReport } from "./health.js";
import { OptionalSeries } from "./optional-series.js";
import { type ConnectionStatus, ControlPlaneConnection, type HostState } from "./report/connection.js";
import { newMessageId } from "./report/ids.js";
import { Outbox } from "./report/outbox.js";
import { readJsonFile, writeFileAtomic } from "./state-files.js";

const HOST_STATE_FILE = "host-state.json";

export interface ReportingOptions {
  stateDir: string;
  registry: Registry;
  logger: Logger;
  controlPlane?: string;
  /** `pke_…` enrolment token (used once) or `pkh_…` host token. */
  token?: string;
  heartbeatIntervalMs?: number;
  pingIntervalMs?: number;
  /** Upper bound of the reconnect back-off and of the resend back-off after a retry-later nack. */
  reconnectMaxMs?: number;
  /** The control plane sent new host state (rental, listing, windows); it is already stored. */
  onHostState: () => void;
}

/**
 * The agent's side of reporting: every fact goes through the durable outbox, and with a control
 * plane a WebSocket connection delivers it. Also the control-plane and outbox metrics.
 */
export class Reporting {
  readonly outbox: Outbox;
  private connection: ControlPlaneConnection | null = null;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private enrolledHostId: string | null = null;
  private state: HostState | null;
  private readonly connected: Gauge;
  private readonly lastHeartbeat: OptionalSeries;
  private readonly lastAck: OptionalSeries;
  private readonly outboxPending: Gauge;
  private readonly reconnects: Counter;
  private readonly rejected: Counter;

  constructor(private readonly o: ReportingOptions) {
    this.outbox = new Outbox(join(o.stateDir, "outbox"));
    this.state = readJsonFile<HostState>(join(o.stateDir, HOST_STATE_FILE));
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [o.registry] });
    this.connected = gauge(
      "podkit_agent_control_plane_connected",
      "1 while the WebSocket to the control plane is open.",
    );
    this.lastHeartbeat = new OptionalSeries(o.registry, {
      name: "podkit_agent_control_plane_last_heartbeat_timestamp_seconds",
      help: "When the last heartbeat was sent.",
    });
    this.lastAck = new OptionalSeries(o.registry, {
      name: "podkit_agent_control_plane_last_ack_timestamp_seconds",
      help: "When the control plane last acknowledged a report.",
    });
    this.outboxPending = gauge(
      "podkit_agent_outbox_messages",
      "Reports waiting in the durable outbox for an acknowledgement.",
    );
    this.rejected = new Counter({
      name: "podkit_agent_outbox_rejected_total",
      help: "Messages the control plane can never accept (schema, version), set aside in outbox/rejected.",
      registers: [o.registry],
    });
    this.reconnects = new Counter({
      name: "podkit_agent_control_plane_reconnects_total",
      help: "Reconnect attempts since the agent started.",
      registers: [o.registry],
    });
  }

  get hostState(): HostState | null {
    return this.state;
  }

  get hostId(): string | null {
    return this.state?.hostId ?? this.enrolledHostId;
  }

  /**
   * Telemetry and the current health every `intervalMs`. Only with a control plane: standalone they
   * would pile up in the outbox for ever (health changes and events are still queued: they are facts).
   */
  startTelemetry(
    intervalMs: number,
    sample: () => { host: HostSample | null; gpus: GpuSample[]; health: HealthReport | null },
  ): void {
    if (this.o.controlPlane === undefined) return;
    this.telemetryTimer = setInterval(() => {
      try {
        const { host, gpus, health } = sample();
        if (host) this.telemetry(host, gpus);
        if (health) this.health(health);
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "agent loop error");
      }
    }, intervalMs);
  }

  stopTelemetry(): void {
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
  }

  event(e: AgentEvent, id = newMessageId("evt")): void {
    this.enqueue(envelope("event", id, e));
  }

  health(report: HealthReport): void {
    this.enqueue(
      envelope("health", newMessageId("health"), {
        machine: report.machine,
        gpus: report.gpus.map((g) => ({ index: g.index, verdict: g.verdict })),
      }),
    );
  }

  private telemetry(host: HostSample, gpus: GpuSample[]): void {
    this.enqueue(envelope("telemetry", newMessageId("tel"), { host, gpus }));
  }

  /** Enrol if needed and connect (returns once the host token is known). Standalone: nothing. */
  async connect(machineInfo: () => MachineInfo, signal?: AbortSignal): Promise<void> {
    const { controlPlane } = this.o;
    if (controlPlane) {
      const credentials = await resolveHostToken({
        controlPlane,
        token: this.o.token,
        stateDir: this.o.stateDir,
        machineInfo: machineInfo(),
        logger: this.o.logger,
        signal,
      });
      this.enrolledHostId = credentials.hostId;
      this.connection = new ControlPlaneConnection({
        controlPlane,
        hostToken: credentials.hostToken,
        outbox: this.outbox,
        machineInfo,
        logger: this.o.logger,
        heartbeatIntervalMs: this.o.heartbeatIntervalMs,
        pingIntervalMs: this.o.pingIntervalMs,
        backoff: new Backoff(500, this.o.reconnectMaxMs ?? 30_000),
        retryBackoff: new Backoff(1000, this.o.reconnectMaxMs ?? 30_000),
        onRejected: () => this.rejected.inc(),
        onHostState: (s) => {
          this.state = s;
          writeFileAtomic(join(this.o.stateDir, HOST_STATE_FILE), JSON.stringify(s, null, 2));
          this.o.onHostState();
        },
        onStatus: (s) => this.updateMetrics(s),
      });
      this.connection.start();
    }
    this.connected.set(0);
  }

  status(): (ConnectionStatus & { url: string; outboxMessages: number }) | null {
    return this.connection && this.o.controlPlane
      ? { ...this.connection.status, url: this.o.controlPlane, outboxMessages: this.outbox.size }
      : null;
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }

  private enqueue(m: AgentMessage): void {
    this.outbox.enqueue(m);
    this.outboxPending.set(this.outbox.size);
    this.connection?.kick();
  }

  private updateMetrics(s: ConnectionStatus): void {
    this.connected.set(s.connected ? 1 : 0);
    // The connection keeps the running count; the counter follows it.
    this.reconnects.reset();
    this.reconnects.inc(s.reconnects);
    this.outboxPending.set(this.outbox.size);
    if (s.lastHeartbeatAt) this.lastHeartbeat.set(Date.parse(s.lastHeartbeatAt) / 1000);
    if (s.lastAckAt) this.lastAck.set(Date.parse(s.lastAckAt) / 1000);
  }
}

function envelope(type: AgentMessage["type"], id: string, payload: unknown): AgentMessage {
  return { v: PROTOCOL_VERSION, id, type, sentAt: new Date().toISOString(), payload } as AgentMessage;
}
