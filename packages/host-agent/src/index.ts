// Public entry of @podkit/host-agent: the daemon (`startAgent`), its parts, and the pure parsers.

export { decideDisruptiveAction, runDisruptiveAction } from "./actions.js";
export { type AgentHandle, type StartAgentOptions, startAgent } from "./agent.js";
export {
  type BurnReport,
  type BurnTestOptions,
  runBurnTest,
  summarize as summarizeBurnTest,
} from "./burn/run.js";
export type { Collector, CollectorContext } from "./collectors/collector.js";
export { type GpuSource, NvidiaSmiSource, SIMULATED_CAPTURES, SimulatedGpuSource } from "./collectors/gpu.js";
export { gpuMetrics } from "./collectors/gpu-metrics.js";
export { AGENT_CONFIG_PATH, type AgentConfig, AgentConfigSchema } from "./config.js";
export { type DaemonHeap, tuneHeapForDaemon } from "./daemon-heap.js";
export { evaluateHealth, type GpuReading, type HealthReport, type ListedGpu } from "./health.js";
export { healthMetrics } from "./health-monitor.js";
export { checkDisruptiveAction, type DisruptiveAction, nextWindow } from "./maintenance.js";
export { parseGpuBurn } from "./parse/gpu-burn.js";
export { parseKernelLog } from "./parse/kernel-log.js";
export { readingFromCsv, readingFromQueryText, readingFromQueryXml } from "./parse/reading.js";
export { parseStressNg, parseStressNgYaml } from "./parse/stress-ng.js";
export { loadXidCatalog } from "./parse/xid-catalog.js";
export {
  type ConnectionStatus,
  ControlPlaneConnection,
  type HostState,
  wsUrlFor,
} from "./report/connection.js";
export { Outbox } from "./report/outbox.js";
export { readJsonFile } from "./state-files.js";
export type { AgentStatus } from "./status.js";
export { formatStatusText, STATUS_STALE_MS } from "./status-text.js";
export {
  configText,
  installAgent,
  NODE_FLAGS,
  STATE_DIR,
  systemdRunning,
  UNIT_NAME,
  UNIT_PATH,
  uninstallAgent,
  unitText,
} from "./systemd.js";
