// Public entry of the control plane.
export { AGENT_WS_PATH, checkAgentFrame } from "./agent-ws.js";
export { RuleViolation } from "./errors.js";
export type { EvaluationSettings, HostEvaluation, HostFacts } from "./evaluate.js";
export { evaluateHost } from "./evaluate.js";
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
export { type EphemeralPostgres, startEphemeralPostgres } from "./testing/postgres.js";
export { SimulatedAgent } from "./testing/sim-agent.js";
export type { FleetEvent, GpuView, HostView, Rental } from "./views.js";
