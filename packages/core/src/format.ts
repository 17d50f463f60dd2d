const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** 1536 → "1.5 KiB". Binary units, because disks and GPU memory are sized in them. */
export function formatBytes(bytes: number, fractionDigits = 1): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(value) : value.toFixed(fractionDigits);
  return `${sign}${text} ${BINARY_UNITS[unit]}`;
}

const BYTE_SUFFIX: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** "200MiB" → 209715200, "1.5 GB" → 1500000000. Throws a RangeError naming the bad text. */
export function parseBytes(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase() || "b";
  const factor = BYTE_SUFFIX[unit];
  if (!match || factor === undefined) {
    throw new RangeError(`not a size: "${text}" (use e.g. 512MiB, 2GB or 1048576)`);
  }
  return Math.round(Number(match[1]) * factor);
}

const DURATION_UNITS: ReadonlyArray<[string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** 5400000 → "1h30m"; below a second → "250ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000) * 1000;
  let out = "";
  for (const [unit, size] of DURATION_UNITS) {
    if (unit === "ms") break;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out || "0s";
}

/** "4h", "90m", "1h30m", "2d", "500ms", "30" (seconds) → milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    const size = DURATION_UNITS.find(([u]) => u === m![2])![1];
    total += Number(m[1]) * size;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new RangeError(`not a duration: "${text}" (use e.g. 4h, 90m, 1h30m or 2d)`);
  }
  return Math.round(total);
}
