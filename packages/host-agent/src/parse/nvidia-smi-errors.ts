import { normalizePciBusId } from "./values.js";

export type NvidiaSmiFailureKind =
  | "gpu-lost"
  | "driver-mismatch"
  | "no-driver"
  | "no-devices"
  | "invalid-field"
  | "timeout"
  | "not-installed"
  | "truncated"
  | "unknown";

export interface NvidiaSmiFailure {
  kind: NvidiaSmiFailureKind;
  /** Stable UPPER_SNAKE reason code for health. */
  code: string;
  message: string;
  /** The line that shows it. */
  evidence: string;
  pciBusId?: string | null;
  /** For invalid-field: the field this driver does not know. */
  field?: string;
  /** For driver-mismatch on newer drivers: the user-space NVML version. */
  nvmlVersion?: string;
}

/**
 * Recognise what nvidia-smi prints when it cannot report (pass stdout and stderr).
 * Returns null when nothing known is found.
 */
/** Substrings every recognised failure line contains; output without any is not split at all. */
const FAILURE_MARKERS = [
  "nable to determine the device handle",
  "Failed to initialize NVML",
  "is not a valid field to query",
  "NVIDIA-SMI has failed",
  "No devices were found",
];

export function classifyNvidiaSmiOutput(...outputs: string[]): NvidiaSmiFailure | null {
  // A healthy 8-GPU `-q` is ~70 KB: splitting it into lines every cycle only to find nothing was
  // the agent's largest allocation. Look for the markers first.
  if (!outputs.some((o) => FAILURE_MARKERS.some((m) => o.includes(m)))) return null;
  const output = outputs.join("\n");
  const lines = output.split(/\r?\n/);
  for (const line of lines) {
    const lost = /Unable to determine the device handle for (?:GPU|gpu)\s?([0-9A-Fa-f:.]+):\s*(.*)$/.exec(
      line,
    );
    if (lost) {
      const detail = lost[2]!.trim();
      return {
        kind: "gpu-lost",
        code: "GPU_LOST",
        message: `nvidia-smi cannot reach GPU ${normalizePciBusId(lost[1])}: ${detail}`,
        evidence: line.trim(),
        pciBusId: normalizePciBusId(lost[1]),
      };
    }
    if (/Failed to initialize NVML: Driver\/library version mismatch/.test(line)) {
      const nvml = /NVML library version:\s*(\S+)/.exec(output)?.[1];
      return {
        kind: "driver-mismatch",
        code: "DRIVER_LIBRARY_MISMATCH",
        message:
          "the NVIDIA driver was upgraded under the running kernel module (driver/library version mismatch); reboot to load the new module",
        evidence: line.trim(),
        ...(nvml ? { nvmlVersion: nvml } : {}),
      };
    }
    const field = /Field "([^"]+)" is not a valid field to query/.exec(line);
    if (field) {
      return {
        kind: "invalid-field",
        code: "NVIDIA_SMI_INVALID_FIELD",
        message: `this driver's nvidia-smi does not know the field ${field[1]}`,
        evidence: line.trim(),
        field: field[1]!,
      };
    }
    if (/NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/.test(line)) {
      return {
        kind: "no-driver",
        code: "DRIVER_NOT_LOADED",
        message: "nvidia-smi cannot talk to the NVIDIA driver (module not loaded?)",
        evidence: line.trim(),
      };
    }
    if (/^No devices were found/.test(line.trim())) {
      return {
        kind: "no-devices",
        code: "NO_GPUS_FOUND",
        message: "nvidia-smi found no GPU",
        evidence: line.trim(),
      };
    }
  }
  return null;
}
