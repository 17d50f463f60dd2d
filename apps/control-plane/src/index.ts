// Public entry of the control plane.

export { RuleViolation } from "./errors.js";
export type { FleetEvent, GpuView, HostView, Rental } from "./fleet/host-view.js";
export { AGENT_WS_PATH, checkAgentFrame } from "./ingest/agent-ws.js";
export type { EvaluationSettings, HostEvaluation, HostFacts } from "./rules/evaluate.js";
export { evaluateHost } from "./rules/evaluate.js";
export * from "./rules/intervals.js";
export * from "./rules/listing.js";
export * from "./rules/maintenance.js";
export * from "./rules/reliability.js";
export {
  type ControlPlaneHandle,
  type ControlPlaneOptions,
  defaultDataDir,
  startControlPlane,
} from "./server.js";
export { dbKindOf, redactDbUrl } from "./store/open.js";
