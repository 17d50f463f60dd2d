import { randomUUID } from "node:crypto";
import {
  type AgentMessage,
  type ControlPlaneMessage,
  ControlPlaneMessageSchema,
  type MachineInfo,
  PROTOCOL_VERSION,
} from "@podkit/core";
import WebSocket from "ws";
import { AGENT_WS_PATH } from "../ingest/agent-ws.js";

type Payload<T extends AgentMessage["type"]> = Extract<AgentMessage, { type: T }>["payload"];
type HostState = Extract<ControlPlaneMessage, { type: "host-state" }>["payload"];

/**
 * A protocol-level agent for tests and benchmarks: it speaks the agent ↔ control-plane protocol
 * from `@podkit/core` over a real WebSocket, without collectors. `send` resolves on the message's ack.
 */
export class SimulatedAgent {
  readonly nacks: Array<Extract<ControlPlaneMessage, { type: "nack" }>["payload"]> = [];
  readonly states: HostState[] = [];
  private readonly waiting = new Map<
    string,
    { resolve: () => void; reject: (e: Error) => void; sentAt: number }
  >();
  private stateWaiters: Array<{ pred: (s: HostState) => boolean; resolve: (s: HostState) => void }> = [];
  /** Milliseconds from send to ack, for every acknowledged message. */
  readonly ackLatencies: number[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => this.onFrame(data.toString()));
    ws.on("close", () => {
      for (const w of this.waiting.values()) w.reject(new Error("connection closed before the ack"));
      this.waiting.clear();
    });
  }

  /** Spend an enrolment token as the agent does: `POST /api/v1/agents/enroll`. */
  static async enroll(
    baseUrl: string,
    enrollmentToken: string,
    machine: MachineInfo,
  ): Promise<{ hostId: string; hostToken: string }> {
    const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/api/v1/agents/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enrollmentToken, machine }),
    });
    const body = (await res.json()) as { hostId: string; hostToken: string; error?: { message: string } };
    if (res.status !== 201)
      throw new Error(`enrolment refused: HTTP ${res.status} ${body.error?.message ?? ""}`);
    return body;
  }

  static async connect(baseUrl: string, hostToken: string): Promise<SimulatedAgent> {
    const url = `${baseUrl.replace(/^http/, "ws").replace(/\/+$/, "")}${AGENT_WS_PATH}`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${hostToken}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
    return new SimulatedAgent(ws);
  }

  private onFrame(text: string): void {
    const msg = ControlPlaneMessageSchema.parse(JSON.parse(text));
    if (msg.type === "ack") {
      const now = performance.now();
      for (const id of msg.payload.ids) {
        const w = this.waiting.get(id);
        if (!w) continue;
        this.waiting.delete(id);
        this.ackLatencies.push(now - w.sentAt);
        w.resolve();
      }
    } else if (msg.type === "nack") {
      this.nacks.push(msg.payload);
      const w = msg.payload.id ? this.waiting.get(msg.payload.id) : undefined;
      if (w && msg.payload.id) {
        this.waiting.delete(msg.payload.id);
        w.reject(new Error(`nack: ${msg.payload.reason}`));
      }
    } else {
      this.states.push(msg.payload);
      this.stateWaiters = this.stateWaiters.filter((w) => {
        if (!w.pred(msg.payload)) return true;
        w.resolve(msg.payload);
        return false;
      });
    }
  }

  envelope<T extends AgentMessage["type"]>(type: T, payload: Payload<T>, id = randomUUID()): AgentMessage {
    return { v: PROTOCOL_VERSION, id, type, sentAt: new Date().toISOString(), payload } as AgentMessage;
  }

  /** Send a message and wait for its ack. */
  send(message: AgentMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.set(message.id, { resolve, reject, sentAt: performance.now() });
      this.ws.send(JSON.stringify(message));
    });
  }

  /** Send any text (for malformed-input tests); nothing to wait for. */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  register(machine: MachineInfo): Promise<void> {
    return this.send(this.envelope("register", machine));
  }

  /** Resolve with the first host-state (already received or coming) that matches. */
  waitForState(pred: (s: HostState) => boolean = () => true, timeoutMs = 10_000): Promise<HostState> {
    const seen = this.states.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no matching host-state in time")), timeoutMs);
      this.stateWaiters.push({
        pred,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}
