/**
 * Every health reason code the agent can emit; `docs/host.md` §6 lists the same (a test checks the
 * table against this list, and this list against the code literals in the sources).
 */
export const HEALTH_REASON_CODES = [
  "GPU_MISSING",
  "GPU_REPLACED",
  "GPU_LOST",
  "DRIVER_LIBRARY_MISMATCH",
  "DRIVER_NOT_LOADED",
  "GPU_UNREADABLE",
  "GPU_TELEMETRY_INCOMPLETE",
  "NVIDIA_SMI_TIMEOUT",
  "NVIDIA_SMI_FAILED",
  "NVIDIA_SMI_UNAVAILABLE",
  "NVIDIA_SMI_INVALID_FIELD",
  "NO_GPUS_FOUND",
  "ROW_REMAP_FAILURE",
  "ROW_REMAP_PENDING",
  "PAGE_RETIREMENT_PENDING",
  "ECC_UNCORRECTED",
  "NVLINK_LINKS_DOWN",
  "GPU_TEMPERATURE_HIGH",
  "GPU_THERMAL_SLOWDOWN",
  "GPU_POWER_BRAKE_SLOWDOWN",
  "GPU_HW_SLOWDOWN",
  "PCIE_LINK_DEGRADED",
] as const;

/** Codes made from a number in the kernel log (`XID_79`, `SXID_12028`). */
export const HEALTH_REASON_FAMILIES = ["XID_<n>", "SXID_<n>"] as const;
