import type { XidEvent } from "@podkit/core";
import type { ActiveXid } from "./health.js";
import type { KernelGpuError } from "./parse/kernel-log.js";
import type { XidCatalogEntry } from "./parse/xid-catalog.js";

/**
 * A kernel-log error → the XidEvent the agent reports, with NVIDIA's catalogue deciding the
 * action. SXids (NVSwitch) have no catalogue here: a `Fatal` one needs the fabric reset that
 * only a reboot gives, a `Non-fatal` one is logged.
 */
export function classifyKernelError(
  error: KernelGpuError,
  catalog: ReadonlyMap<number, XidCatalogEntry>,
  gpuIndexByBusId: ReadonlyMap<string, number>,
  at: string,
): XidEvent {
  let action: XidEvent["action"];
  let description: string | undefined;
  if (error.kind === "sxid") {
    action = /\bFatal\b/.test(error.message) && !/Non-fatal/i.test(error.message) ? "reboot" : "none";
    description = error.message;
  } else if (error.kind === "fallen-off-bus") {
    action = "reboot";
    description = "GPU has fallen off the bus (probe time, no XID number in the log)";
  } else {
    const entry = catalog.get(error.code);
    action = entry?.action ?? "unknown";
    description = entry?.description;
  }
  return {
    at,
    xid: error.code,
    kind: error.kind === "sxid" ? "sxid" : "xid",
    pciBusId: error.pciBusId,
    gpuIndex: error.kind === "sxid" || !error.pciBusId ? null : (gpuIndexByBusId.get(error.pciBusId) ?? null),
    pid: error.pid,
    processName: error.processName,
    migInstance: error.migInstance,
    action,
    ...(description ? { description } : {}),
    raw: error.raw,
  };
}

/** How long an XID that wants a GPU reset (or that the catalogue does not classify) keeps counting without a repeat. */
export const XID_CLEAR_AFTER_MS = 3_600_000;

/**
 * The XIDs that still count for health on this boot. Reboot-class XIDs last for the boot (the
 * kernel log starts empty after a reboot); reset-class and unclassified ones clear an hour after
 * their last occurrence; RMA-class ones clear when another GPU sits at that PCI address.
 */
export class XidTracker {
  private readonly active = new Map<string, ActiveXid & { uuidAtEvent: string | null }>();

  record(event: XidEvent, uuidAtBus: string | null): void {
    if (event.action === "none" || event.action === "restart-app") return;
    const key = `${event.kind}:${event.xid}:${event.pciBusId ?? "-"}`;
    const prev = this.active.get(key);
    if (prev) {
      prev.count++;
      prev.lastAt = event.at;
      prev.event = event;
    } else
      this.active.set(key, { event, firstAt: event.at, lastAt: event.at, count: 1, uuidAtEvent: uuidAtBus });
  }

  current(now: Date, uuidByBus: ReadonlyMap<string, string>): ActiveXid[] {
    for (const [key, x] of this.active) {
      const age = now.getTime() - Date.parse(x.lastAt);
      const bus = x.event.pciBusId;
      const replaced =
        x.event.action === "rma" &&
        bus &&
        x.uuidAtEvent &&
        uuidByBus.get(bus) &&
        uuidByBus.get(bus) !== x.uuidAtEvent;
      if (
        ((x.event.action === "reset-gpu" || x.event.action === "unknown") && age > XID_CLEAR_AFTER_MS) ||
        replaced
      ) {
        this.active.delete(key);
      }
    }
    return [...this.active.values()].map(({ uuidAtEvent: _u, ...rest }) => rest);
  }
}
