import type { GpuSample, HealthReason } from "@podkit/core";

export type GpuReason = Omit<HealthReason, "since" | "gpuIndex">;

/** Used only for a GPU that reports none of its own limits (max operating, slowdown, T.Limit). */
export const DEFAULT_THERMAL_LIMIT_CELSIUS = 90;

/** Utilisation from which a GPU counts as loaded (the PCIe link may down-train while idle). */
export const PCIE_LOAD_RATIO = 0.05;

/**
 * Clocks event reasons that mean the hardware is being held back (degraded). The others are
 * informational — gpu_idle, applications_clocks_setting, display_clock_setting, sync_boost and
 * sw_power_cap (the GPU at its configured power limit is normal under full load) — and only
 * appear as metrics.
 */
const SLOWDOWN_RULES: ReadonlyArray<{ reasons: string[]; code: string; message: string }> = [
  {
    reasons: ["hw_thermal_slowdown", "sw_thermal_slowdown"],
    code: "GPU_THERMAL_SLOWDOWN",
    message: "clocks are cut because the GPU is too hot",
  },
  {
    reasons: ["hw_power_brake_slowdown"],
    code: "GPU_POWER_BRAKE_SLOWDOWN",
    message: "clocks are cut by the external power brake signal (power supply or chassis)",
  },
];

/**
 * Rules over one GPU's sample: memory repair state, ECC, temperature against the GPU's own
 * limits, clock slowdowns and the PCIe link. Values nvidia-smi did not give decide nothing.
 */
export function gpuSampleReasons(
  g: GpuSample,
  fallbackLimitCelsius = DEFAULT_THERMAL_LIMIT_CELSIUS,
): GpuReason[] {
  const out: GpuReason[] = [];
  if (g.remappedRowsFailure === true)
    out.push({
      code: "ROW_REMAP_FAILURE",
      message: "HBM row remapping failed: the memory has no spare rows left (RMA)",
      state: "failed",
      evidence: "remapped_rows.failure=Yes",
      clearsWhen: "the GPU is replaced",
    });
  if (g.remappedRowsPending === true)
    out.push({
      code: "ROW_REMAP_PENDING",
      message: "a memory row remap is pending; a GPU reset applies it",
      state: "reset-required",
      evidence: "remapped_rows.pending=Yes",
      clearsWhen: "remapped_rows.pending reads No (after a GPU reset or reboot)",
    });
  if (g.retiredPagesPending === true)
    out.push({
      code: "PAGE_RETIREMENT_PENDING",
      message: "a memory page retirement is pending; a GPU reset applies it",
      state: "reset-required",
      evidence: "retired_pages.pending=Yes",
      clearsWhen: "retired_pages.pending reads No (after a GPU reset or reboot)",
    });
  if ((g.eccVolatileUncorrected ?? 0) > 0)
    out.push({
      code: "ECC_UNCORRECTED",
      message: `${g.eccVolatileUncorrected} uncorrected ECC errors since the last reset`,
      state: "degraded",
      evidence: `ecc.errors.uncorrected.volatile.total=${g.eccVolatileUncorrected}`,
      clearsWhen: "the volatile counter returns to 0 (GPU reset or reboot)",
    });
  const hot = temperatureReason(g, fallbackLimitCelsius);
  if (hot) out.push(hot);
  out.push(...slowdownReasons(g));
  const link = pcieReason(g);
  if (link) out.push(link);
  return out;
}

function temperatureReason(g: GpuSample, fallback: number): GpuReason | null {
  const margin = g.temperatureLimitMarginCelsius ?? null;
  const t = g.temperatureCelsius;
  const own = g.temperatureMaxOperatingCelsius ?? g.temperatureSlowdownCelsius ?? null;
  const limit = own ?? fallback;
  const slowdown = g.temperatureSlowdownCelsius ?? null;
  const whose =
    own === null
      ? `no limit reported by the GPU; default ${fallback} °C`
      : "the GPU's max operating temperature";
  if (margin !== null && margin <= 0) {
    return {
      code: "GPU_TEMPERATURE_HIGH",
      message: `GPU ${-margin} °C above its max operating temperature${t !== null ? ` (${t} °C)` : ""}${slowdown !== null ? `; clocks slow down at ${slowdown} °C` : ""}`,
      state: "degraded",
      evidence: `temperature.gpu.tlimit=${margin} (0 = max operating temperature)`,
      clearsWhen: "temperature.gpu.tlimit above 0 (the GPU below its max operating temperature)",
    };
  }
  if (margin === null && t !== null && t >= limit) {
    return {
      code: "GPU_TEMPERATURE_HIGH",
      message: `GPU at ${t} °C, at or above ${limit} °C (${whose})${slowdown !== null ? `; clocks slow down at ${slowdown} °C` : ""}`,
      state: "degraded",
      evidence: `temperature.gpu=${t}`,
      clearsWhen: `temperature below ${limit} °C`,
    };
  }
  return null;
}

function slowdownReasons(g: GpuSample): GpuReason[] {
  const reasons = g.clocksEventReasons;
  if (!reasons) return [];
  const out: GpuReason[] = [];
  const active = (r: string) => reasons[r] === true;
  for (const rule of SLOWDOWN_RULES) {
    const on = rule.reasons.filter(active);
    if (on.length === 0) continue;
    out.push({
      code: rule.code,
      message: rule.message,
      state: "degraded",
      evidence: `clocks event reasons active: ${on.join(", ")}`,
      clearsWhen: `nvidia-smi reports ${on.join(" and ")} not active`,
    });
  }
  // HW Slowdown is also set with its thermal and power-brake sub-reasons; alone it is a slowdown
  // signal from outside the GPU with no named cause.
  if (active("hw_slowdown") && !active("hw_thermal_slowdown") && !active("hw_power_brake_slowdown"))
    out.push({
      code: "GPU_HW_SLOWDOWN",
      message: "clocks are cut by a hardware slowdown signal",
      state: "degraded",
      evidence: "clocks event reasons active: hw_slowdown",
      clearsWhen: "nvidia-smi reports hw_slowdown not active",
    });
  return out;
}

function pcieReason(g: GpuSample): GpuReason | null {
  const gen = [g.pcieLinkGenCurrent ?? null, g.pcieLinkGenMax ?? null] as const;
  const width = [g.pcieLinkWidthCurrent ?? null, g.pcieLinkWidthMax ?? null] as const;
  const genLow = gen[0] !== null && gen[1] !== null && gen[0] < gen[1];
  const widthLow = width[0] !== null && width[1] !== null && width[0] < width[1];
  if (!genLow && !widthLow) return null;
  // An idle link down-trains to save power: judge it only while the GPU works.
  const util = g.utilizationRatio;
  const loaded = util !== null ? util >= PCIE_LOAD_RATIO : g.clocksEventReasons?.gpu_idle === false;
  if (!loaded) return null;
  const parts = [
    genLow ? `generation ${gen[0]} of ${gen[1]}` : null,
    widthLow ? `width x${width[0]} of x${width[1]}` : null,
  ].filter((p): p is string => p !== null);
  return {
    code: "PCIE_LINK_DEGRADED",
    message: `PCIe link below its maximum under load: ${parts.join(", ")}`,
    state: "degraded",
    evidence: `pcie.link.gen.current=${gen[0]} max=${gen[1]}, pcie.link.width.current=${width[0]} max=${width[1]}, utilization.gpu=${util === null ? "n/a" : `${Math.round(util * 100)}%`}`,
    clearsWhen: "the link runs at its maximum generation and width while the GPU is loaded",
  };
}
