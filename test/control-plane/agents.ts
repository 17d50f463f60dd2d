import { join } from "node:path";
import type { HostView } from "@podkit/control-plane";
import { type AgentProcess, FakeKernelLog, startAgentProcess, tempDir } from "../agent/helpers.js";
import { podkit, type TestControlPlane, until } from "./harness.js";

export interface RealAgent {
  process: AgentProcess;
  stateDir: string;
  kmsg: FakeKernelLog;
  restart(): Promise<void>;
}

/**
 * Start the real `podkit agent run` (replaying the recorded 8× H100 capture, since this machine has
 * no GPU) against a control plane, enrolled with a token from `podkit hosts enroll`.
 */
export async function startRealAgent(cp: TestControlPlane, name: string): Promise<RealAgent> {
  const dir = tempDir(`cp-agent-${name}`);
  const stateDir = join(dir, "state");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  const enroll = await podkit(cp, "hosts", "enroll", "--json");
  if (enroll.code !== 0) throw new Error(`podkit hosts enroll: ${enroll.stderr}`);
  const { token } = JSON.parse(enroll.stdout) as { token: string };
  const args = [
    "--simulate",
    "h100-8x",
    "--control-plane",
    cp.url,
    "--token",
    token,
    "--state-dir",
    stateDir,
    "--metrics-listen",
    "127.0.0.1:0",
    "--kmsg",
    kmsg.path,
  ];
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

/** Wait until `podkit hosts list --json` satisfies `pred`. */
export function untilHosts(
  cp: TestControlPlane,
  what: string,
  pred: (hosts: HostView[]) => boolean,
  timeoutMs = 30_000,
) {
  return until(
    what,
    async () => {
      const hosts = await hostsJson(cp);
      return pred(hosts) ? hosts : undefined;
    },
    timeoutMs,
  );
}
