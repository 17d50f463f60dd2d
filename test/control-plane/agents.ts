import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HostView } from "@podkit/control-plane";
import {
  type AgentProcess,
  enrolledAgentArgs,
  FakeKernelLog,
  startAgentProcess,
  tempDir,
} from "../agent/helpers.js";
import { apiHosts, podkit, type TestControlPlane, until } from "./harness.js";

export interface RealAgent {
  process: AgentProcess;
  stateDir: string;
  kmsg: FakeKernelLog;
  restart(): Promise<void>;
}

/**
 * Start the real `podkit agent run` (replaying the recorded 8× H100 capture, since this machine has
 * no GPU) against a control plane, with a fresh enrolment token.
 */
export async function startRealAgent(cp: TestControlPlane, name: string): Promise<RealAgent> {
  const dir = tempDir(`cp-agent-${name}`);
  const stateDir = join(dir, "state");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  const { token } = await cp.createEnrollmentToken();
  const args = enrolledAgentArgs({ controlPlane: cp.url, token, stateDir, kmsgPath: kmsg.path });
  const env = {
    PODKIT_LOG_LEVEL: "warn",
    PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.5",
    PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
    PODKIT_AGENT_HOST_INTERVAL_SECONDS: "0.5",
    PODKIT_AGENT_HEARTBEAT_INTERVAL_SECONDS: "0.5",
    PODKIT_AGENT_RECONNECT_MAX_SECONDS: "1",
  };
  const agent: RealAgent = {
    process: await startAgentProcess(args, env),
    stateDir,
    kmsg,
    restart: async () => {
      // The token was spent at enrolment; the agent now uses the host token in its state dir.
      agent.process = await startAgentProcess(args, env);
    },
  };
  return agent;
}

export async function hostsJson(cp: TestControlPlane): Promise<HostView[]> {
  const r = await podkit(cp, "hosts", "list", "--json");
  if (r.code !== 0) throw new Error(`podkit hosts list: ${r.stderr}`);
  return JSON.parse(r.stdout) as HostView[];
}

/** Wait until the hosts (as `GET /api/v1/hosts` shows them) satisfy `pred`. */
export function untilHosts(
  cp: TestControlPlane,
  what: string,
  pred: (hosts: HostView[]) => boolean,
  timeoutMs = 30_000,
) {
  return until(
    what,
    async () => {
      const hosts = await apiHosts(cp);
      return pred(hosts) ? hosts : undefined;
    },
    timeoutMs,
  );
}

/** The agent's own view (`STATE_DIR/status.json`, which `podkit agent status --json` prints). */
export function agentStatusFile(a: RealAgent): AgentStatusJson {
  return JSON.parse(readFileSync(join(a.stateDir, "status.json"), "utf8")) as AgentStatusJson;
}

export interface AgentStatusJson {
  hostId: string | null;
  machine: { health: { state: string } };
  gpus: unknown[];
  listing: { state: string; reasons: string[] } | null;
  maintenanceWindows: Array<{ id: string; start: string }>;
}
