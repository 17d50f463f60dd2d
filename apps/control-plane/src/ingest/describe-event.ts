import type { AgentEvent } from "@podkit/core";

/** The one-line message recorded with each agent event. */
export function describeEvent(hostId: string, event: AgentEvent): string {
  switch (event.kind) {
    case "xid": {
      const x = event.xid;
      const where = x.gpuIndex !== null ? `GPU ${x.gpuIndex}` : (x.pciBusId ?? "unknown GPU");
      return `${hostId}: ${x.kind.toUpperCase()} ${x.xid} on ${where}${x.description ? ` (${x.description})` : ""} → ${x.action}`;
    }
    case "gpu-lost":
      return `${hostId}: GPU lost${event.gpuIndex !== null ? ` (GPU ${event.gpuIndex})` : ""}: ${event.evidence}`;
    case "burn-test":
      return `${hostId}: burn test ${event.phase}${event.summary ? `: ${event.summary}` : ""}`;
    case "listing-request":
      return `${hostId}: asks to be ${event.listed ? "listed" : "unlisted"}: ${event.reason}`;
    case "notice":
      return `${hostId}: ${event.message}`;
  }
}
