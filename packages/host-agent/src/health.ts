import {
  type GpuSample,
  type HealthReason,
  type HealthState,
  type HealthVerdict,
  worstHealth,
  type XidEvent,
} from "@podkit/core";
import { gpuSampleReasons } from "./health-gpu.js";
import type { NvidiaSmiFailure } from "./parse/nvidia-smi-errors.js";

/** A GPU as the machine was listed with: the identity renters rent. */
export interface ListedGpu {
  index: number;
  uuid: string;
  pciBusId: string;
  name: string;
  /** Active NVLink links when the machine was listed (HGX boards), if NVLink was reported. */
  nvlinkActiveLinks?: number;
}

/** What the GPU collector could tell this cycle. */
export interface GpuReading {
  /** Samples that parsed completely; a GPU missing here is not "healthy", it is unknown or lost. */
  gpus: GpuSample[];
  failure: NvidiaSmiFailure | null;
  /** Why the output cannot be fully trusted (truncated, header mismatch, timeout …). */
  problems: string[];
  at: string;
}

/** XIDs seen on this boot that still count (the tracker drops the ones whose clear condition was met). */
export interface ActiveXid {
  event: XidEvent;
  firstAt: string;
  lastAt: string;
  count: number;
}

export interface HealthInput {
  now: Date;
  listed: ListedGpu[] | null;
  reading: GpuReading;
  xids: ActiveXid[];
  /** Reasons from the previous evaluation, so `since` stays the first time a reason was seen. */
  previous?: HealthReport | null;
  /** For a GPU that reports no temperature limit of its own (default 90 °C). */
  thermalLimitCelsius?: number;
  /** Active NVLink links per GPU index this cycle, when read. */
  nvlinkActiveLinks?: Record<number, number>;
}

export interface HealthReport {
  machine: HealthVerdict;
  gpus: Array<{ index: number; uuid: string | null; pciBusId: string | null; verdict: HealthVerdict }>;
}

const XID_STATE: Record<XidEvent["action"], HealthState | null> = {
  none: null,
  "restart-app": null,
  "reset-gpu": "reset-required",
  reboot: "reboot-required",
  rma: "failed",
  unknown: "degraded",
};

const XID_CLEARS: Record<XidEvent["action"], string> = {
  none: "",
  "restart-app": "",
  "reset-gpu": "a GPU reset or reboot, or one hour without a new occurrence while the GPU reads healthy",
  reboot: "a reboot (new boot id) after which the XID does not recur",
  rma: "the GPU is replaced (a different UUID at this PCI address)",
  unknown: "one hour without a new occurrence",
};

/** A reason before `since` is known (evaluateHealth keeps the first time it was seen). */
type ReasonDraft = Omit<HealthReason, "since">;

/**
 * Pure health rules: what the collectors saw → a state per GPU and for the machine, each
 * reason with a stable code, the evidence and what clears it. A GPU that could not be read
 * is never reported healthy.
 */
export function evaluateHealth(input: HealthInput): HealthReport {
  const at = input.now.toISOString();
  const previousSince = new Map<string, string>();
  for (const r of input.previous?.machine.reasons ?? [])
    previousSince.set(`${r.code}:${r.gpuIndex ?? "-"}`, r.since);
  const reason = (r: ReasonDraft): HealthReason => ({
    ...r,
    since: previousSince.get(`${r.code}:${r.gpuIndex ?? "-"}`) ?? at,
  });

  const { reading } = input;
  const machineReasons: HealthReason[] = readingReasons(reading).map((r) => reason(r));
  const perGpu = new Map<number, { uuid: string | null; pciBusId: string | null; reasons: HealthReason[] }>();
  const gpuEntry = (index: number, uuid: string | null, pciBusId: string | null) => {
    let e = perGpu.get(index);
    if (!e) {
      e = { uuid, pciBusId, reasons: [] };
      perGpu.set(index, e);
    }
    return e;
  };
  for (const g of reading.gpus) gpuEntry(g.index, g.uuid, g.pciBusId);

  // A vanished GPU is the most important failure: compare with what the machine was listed with.
  const listed = input.listed ?? [];
  for (const l of listed) {
    const entry = gpuEntry(l.index, l.uuid, l.pciBusId);
    const r = listedGpuReason(l, reading, listed.length);
    if (r) entry.reasons.push(reason(r));
  }
  for (const l of listed) {
    const r = nvlinkReason(l, input.nvlinkActiveLinks?.[l.index]);
    if (r) gpuEntry(l.index, l.uuid, l.pciBusId).reasons.push(reason(r));
  }

  for (const g of reading.gpus) {
    const entry = gpuEntry(g.index, g.uuid, g.pciBusId);
    for (const r of gpuSampleReasons(g, input.thermalLimitCelsius))
      entry.reasons.push(reason({ ...r, gpuIndex: g.index }));
  }

  for (const x of input.xids) {
    const r = xidReason(x);
    if (!r) continue;
    const g = x.event.gpuIndex;
    if (g !== null && x.event.kind === "xid") {
      const listedGpu = input.listed?.find((l) => l.index === g);
      gpuEntry(g, listedGpu?.uuid ?? null, x.event.pciBusId).reasons.push(reason({ ...r, gpuIndex: g }));
    } else machineReasons.push(reason(r));
  }

  const gpus = [...perGpu.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, e]) => ({
      index,
      uuid: e.uuid,
      pciBusId: e.pciBusId,
      verdict: { state: worstHealth(e.reasons.map((r) => r.state)), reasons: e.reasons, at },
    }));
  const allReasons = [...machineReasons, ...gpus.flatMap((g) => g.verdict.reasons)];
  return { machine: { state: worstHealth(allReasons.map((r) => r.state)), reasons: allReasons, at }, gpus };
}

/** Machine-wide reasons from the reading itself: nvidia-smi failed, or its output was incomplete. */
function readingReasons(reading: GpuReading): ReasonDraft[] {
  const reasons: ReasonDraft[] = [];
  if (reading.failure) {
    const f = reading.failure;
    const state: HealthState =
      f.kind === "gpu-lost" || f.kind === "driver-mismatch" || f.kind === "no-driver"
        ? "reboot-required"
        : "degraded";
    reasons.push({
      code: f.code,
      message: f.message,
      state,
      evidence: f.evidence,
      clearsWhen:
        f.kind === "driver-mismatch"
          ? "a reboot loads the upgraded kernel module (nvidia-smi works again)"
          : "nvidia-smi reports every listed GPU again",
    });
  }
  if (reading.problems.length > 0) {
    reasons.push({
      code: "GPU_TELEMETRY_INCOMPLETE",
      message: `nvidia-smi output could not be fully read: ${reading.problems.join("; ")}`,
      state: "degraded",
      evidence: reading.problems[0]!,
      clearsWhen: "a complete nvidia-smi reading",
    });
  }
  return reasons;
}

/** A listed GPU that is not in this reading (missing or unreadable), or is there with another UUID. */
function listedGpuReason(l: ListedGpu, reading: GpuReading, listedCount: number): ReasonDraft | null {
  const present = reading.gpus.find((g) => g.uuid === l.uuid || g.pciBusId === l.pciBusId);
  if (present && present.uuid !== l.uuid) {
    return {
      code: "GPU_REPLACED",
      message: `GPU at ${l.pciBusId} has UUID ${present.uuid}, listed with ${l.uuid}`,
      state: "degraded",
      evidence: present.uuid,
      gpuIndex: l.index,
      clearsWhen: "the machine is re-registered with its current GPUs",
    };
  }
  if (present) return null;
  const lostHere = reading.failure?.kind === "gpu-lost" && reading.failure.pciBusId === l.pciBusId;
  const unreadable = !lostHere && (reading.failure !== null || reading.problems.length > 0);
  if (unreadable) {
    return {
      code: "GPU_UNREADABLE",
      message: `GPU ${l.index} (${l.pciBusId}) could not be read this cycle`,
      state: "degraded",
      evidence: reading.failure?.evidence ?? reading.problems[0] ?? "",
      gpuIndex: l.index,
      clearsWhen: "nvidia-smi reports the GPU again",
    };
  }
  return {
    code: "GPU_MISSING",
    message: `GPU ${l.index} (${l.name}, ${l.pciBusId}) is gone: ${reading.gpus.length} of ${listedCount} listed GPUs are present`,
    state: "reboot-required",
    evidence: lostHere
      ? reading.failure!.evidence
      : `present: ${reading.gpus.map((g) => g.pciBusId).join(", ") || "none"}`,
    gpuIndex: l.index,
    clearsWhen: "the GPU is enumerated again with its listed UUID and PCI address (usually after a reboot)",
  };
}

/** Fewer NVLink links active now than when the machine was listed. */
function nvlinkReason(l: ListedGpu, now: number | undefined): ReasonDraft | null {
  if (l.nvlinkActiveLinks === undefined || now === undefined || now >= l.nvlinkActiveLinks) return null;
  return {
    code: "NVLINK_LINKS_DOWN",
    message: `GPU ${l.index}: ${now} of ${l.nvlinkActiveLinks} NVLink links active`,
    state: "degraded",
    evidence: `nvidia-smi nvlink -s: ${now} active links`,
    gpuIndex: l.index,
    clearsWhen: `all ${l.nvlinkActiveLinks} links are active again`,
  };
}

/** An XID or SXid whose action leaves the GPU (or machine) below healthy; null for the harmless ones. */
function xidReason(x: ActiveXid): ReasonDraft | null {
  const state = XID_STATE[x.event.action];
  if (!state) return null;
  return {
    code: `${x.event.kind === "sxid" ? "SXID" : "XID"}_${x.event.xid}`,
    message: `${x.event.kind === "sxid" ? "SXid" : "Xid"} ${x.event.xid}${x.event.description ? ` (${x.event.description})` : ""} seen ${x.count}× since ${x.firstAt}; action: ${x.event.action}`,
    state,
    evidence: x.event.raw,
    clearsWhen: XID_CLEARS[x.event.action],
  };
}
