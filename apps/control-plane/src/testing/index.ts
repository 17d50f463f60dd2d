// Test tools for this repository's suites (an ephemeral PostgreSQL, a simulated agent). Reachable
// only under the `podkit-workspace` export condition, so they are not part of the public API.
export { type EphemeralPostgres, startEphemeralPostgres } from "./postgres.js";
export { SimulatedAgent } from "./sim-agent.js";
