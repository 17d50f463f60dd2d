import { bool, num } from "./values.js";

/**
 * Clocks event reasons (formerly "clocks throttle reasons"), by NVML bit
 * (nvmlClocksEventReasons; `clocks_event_reasons.active` is this mask in hex).
 */
export const CLOCKS_EVENT_REASONS = [
  ["gpu_idle", 0x1],
  ["applications_clocks_setting", 0x2],
  ["sw_power_cap", 0x4],
  ["hw_slowdown", 0x8],
  ["sync_boost", 0x10],
  ["sw_thermal_slowdown", 0x20],
  ["hw_thermal_slowdown", 0x40],
  ["hw_power_brake_slowdown", 0x80],
  ["display_clock_setting", 0x100],
] as const;
export type ClocksEventReason = (typeof CLOCKS_EVENT_REASONS)[number][0];

/**
 * `clocks_event_reasons.active` (+ `.supported` when asked) → reason → active. Only reasons the
 * GPU supports are listed (all nine when the supported mask is unknown); null when the active
 * mask is absent, never "nothing active".
 */
export function clocksEventReasonsFromMask(
  activeCell: string | null | undefined,
  supportedCell?: string | null,
): Record<string, boolean> | null {
  const active = num(activeCell);
  if (active === null) return null;
  const supported = num(supportedCell);
  const out: Record<string, boolean> = {};
  for (const [reason, bit] of CLOCKS_EVENT_REASONS) {
    if (supported !== null && (supported & bit) === 0) continue;
    out[reason] = (active & bit) !== 0;
  }
  return out;
}

/** `-q` labels under "Clocks Event Reasons" / "Clocks Throttle Reasons" → reason. */
const TEXT_LABELS: Record<string, ClocksEventReason> = {
  Idle: "gpu_idle",
  "Applications Clocks Setting": "applications_clocks_setting",
  "SW Power Cap": "sw_power_cap",
  "HW Slowdown": "hw_slowdown",
  "HW Thermal Slowdown": "hw_thermal_slowdown",
  "HW Power Brake Slowdown": "hw_power_brake_slowdown",
  "Sync Boost": "sync_boost",
  "SW Thermal Slowdown": "sw_thermal_slowdown",
  "Display Clock Setting": "display_clock_setting",
};

/**
 * Reasons from a section of `Label : Active|Not Active` values (`-q` text, or `-q -x` elements
 * after `nameOf` maps their names); a reason printed as N/A is left out. Null without the section.
 */
export function clocksEventReasonsFromSection(
  section: Record<string, unknown> | null | undefined,
  nameOf: (key: string) => ClocksEventReason | undefined = (k) => TEXT_LABELS[k],
): Record<string, boolean> | null {
  if (!section || typeof section !== "object") return null;
  const out: Record<string, boolean> = {};
  for (const [key, value] of Object.entries(section)) {
    const reason = nameOf(key);
    const active = typeof value === "string" ? bool(value) : null;
    if (reason && active !== null) out[reason] = active;
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** `-q -x` element names (`clocks_event_reason_hw_slowdown`, `clocks_throttle_reason_…`) → reason. */
export function clocksEventReasonFromXmlName(name: string): ClocksEventReason | undefined {
  const m = /^clocks_(?:event|throttle)_reason_(.+)$/.exec(name);
  if (!m) return undefined;
  const suffix = m[1] === "display_clocks_setting" ? "display_clock_setting" : m[1];
  return CLOCKS_EVENT_REASONS.find(([r]) => r === suffix)?.[0];
}

export interface TemperatureLimits {
  temperatureMaxOperatingCelsius: number | null;
  temperatureSlowdownCelsius: number | null;
  temperatureShutdownCelsius: number | null;
  temperatureLimitMarginCelsius: number | null;
}

/**
 * A GPU's own temperature limits from what nvidia-smi prints. Older drivers and consumer cards
 * give absolute limits ("GPU Slowdown Temp : 97 C"); data-centre cards on newer drivers give the
 * T.Limit form instead: the headroom now ("GPU T.Limit Temp : 46 C"; 0 is the max operating
 * limit, slowdown and shutdown sit at small negative headrooms such as -2 and -8). T.Limit is
 * measured at the GPU's limiting sensor, not the core sensor `temperature.gpu` reads (on the H100
 * MIG captures core + T.Limit is 87 °C idle but 77 °C under load), so no absolute limit is
 * derived from it: the headroom is kept as it is and health judges it directly.
 */
export function temperatureLimits(cells: {
  margin?: string | null;
  maxOperating?: string | null;
  slowdown?: string | null;
  shutdown?: string | null;
}): TemperatureLimits {
  return {
    temperatureMaxOperatingCelsius: num(cells.maxOperating),
    temperatureSlowdownCelsius: num(cells.slowdown),
    temperatureShutdownCelsius: num(cells.shutdown),
    temperatureLimitMarginCelsius: num(cells.margin),
  };
}
