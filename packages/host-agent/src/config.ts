import { z } from "zod";

/**
 * `/etc/podkit/agent.toml` (table `[agent]`), `PODKIT_AGENT_*` variables and flags, in the
 * project-wide precedence flags > environment > file > defaults.
 */
export const AgentConfigSchema = z.object({
  controlPlane: z.string().url().optional(),
  token: z.string().optional(),
  metricsListen: z.string().default("127.0.0.1:9101"),
  stateDir: z.string().default("/var/lib/podkit/agent"),
  nvidiaSmiPath: z.string().default("nvidia-smi"),
  kmsgPath: z.string().default("/dev/kmsg"),
  simulate: z.string().optional(),
  gpuIntervalSeconds: z.number().positive().default(10),
  reportIntervalSeconds: z.number().positive().default(15),
  heartbeatIntervalSeconds: z.number().positive().default(15),
  /** WebSocket ping; no pong (or no answer to a sent message) by the next ping and the link is dead. */
  pingIntervalSeconds: z.number().positive().default(15),
  collectorTimeoutSeconds: z.number().positive().default(10),
  reconnectMaxSeconds: z.number().positive().default(30),
  burnHooksDir: z.string().default("/etc/podkit/burn.d"),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

export { AGENT_CONFIG_PATH } from "./constants.js";
