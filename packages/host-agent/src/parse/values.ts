/**
 * Value cells as nvidia-smi prints them. Anything that is not a real reading becomes `null`
 * (never a made-up 0): `[N/A]`, bare `N/A`, `[Not Supported]`, `[Unknown Error]`, `ERR!`, …
 */
const ABSENT = new Set([
  "",
  "n/a",
  "[n/a]",
  "[not supported]",
  "not supported",
  "[insufficient permissions]",
  "[unknown error]",
  "unknown error",
  "[requested functionality has been deprecated]",
  "[gpu is lost]",
  "err!",
  "unknown",
  "none",
]);

export function isAbsent(cell: string | null | undefined): boolean {
  return cell === null || cell === undefined || ABSENT.has(cell.trim().toLowerCase());
}

/** The cell with surrounding blanks removed, or null when nvidia-smi could not give it. */
export function text(cell: string | null | undefined): string | null {
  if (isAbsent(cell)) return null;
  return (cell as string).trim();
}

/** A leading decimal number (units after it are ignored); null if absent or not a number. */
export function num(cell: string | null | undefined): number | null {
  const t = text(cell);
  if (t === null) return null;
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t.slice(2), 16);
  const m = /^[-+]?\d+(\.\d+)?/.exec(t);
  if (!m) return null;
  // "16x" (link width) is a number; "ERR! 12" or "12 34" is not a single reading.
  const rest = t.slice(m[0].length).trim();
  if (rest !== "" && !/^[a-zA-Z%/.]+$/.test(rest) && !/^[a-zA-Z]+\([a-z]\)$/.test(rest)) return null;
  const n = Number(m[0]);
  return Number.isFinite(n) ? n : null;
}

const UNIT_FACTORS: Record<string, number> = {
  mib: 1024 * 1024,
  kib: 1024,
  gib: 1024 ** 3,
  mhz: 1e6,
  "%": 0.01,
  w: 1,
  c: 1,
  us: 1e-6,
  ms: 1e-3,
  "kb/s": 1000,
};

/**
 * A number converted to base units by its unit: from the cell ("81559 MiB") or, when the
 * cell has none (`--format=csv,nounits` or a CSV header such as `memory.total [MiB]`), from
 * `unitHint`.
 */
export function baseUnits(cell: string | null | undefined, unitHint?: string | null): number | null {
  const n = num(cell);
  if (n === null) return null;
  const unitMatch = /^[-+]?\d+(?:\.\d+)?\s*(\S+)/.exec((cell as string).trim());
  const unit = (unitMatch?.[1] ?? unitHint ?? "").toLowerCase();
  const factor = UNIT_FACTORS[unit];
  return factor === undefined ? n : n * factor;
}

/** Yes/Enabled/Active → true, No/Disabled/Not Active → false, anything else null. */
export function bool(cell: string | null | undefined): boolean | null {
  const t = text(cell)?.toLowerCase();
  if (t === undefined || t === null) return null;
  if (t === "yes" || t === "enabled" || t === "active" || t === "true") return true;
  if (t === "no" || t === "disabled" || t === "not active" || t === "false") return false;
  return null;
}

/** `00000000:19:00.0` and `0000:19:00.0` and `PCI:0000:19:00` all name one device: `0000:19:00.0`, lower case. */
export function normalizePciBusId(id: string | null | undefined): string | null {
  if (!id) return null;
  const m = /([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})(?:\.([0-7]))?/i.exec(id);
  if (!m) return null;
  const domain = m[1]!.slice(-4).toLowerCase();
  return `${domain}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4] ?? "0"}`;
}
