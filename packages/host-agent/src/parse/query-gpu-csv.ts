import { isAbsent } from "./values.js";

/** One GPU row of `nvidia-smi --query-gpu=… --format=csv`: field name → raw cell (null when absent). */
export interface CsvGpuRow {
  cells: Record<string, string | null>;
  /** Units from the header (`memory.total [MiB]` → `MiB`), so `nounits` output still converts. */
  units: Record<string, string>;
}

export interface ParsedQueryGpuCsv {
  fields: string[];
  rows: CsvGpuRow[];
  /** Problems that make the output untrustworthy (short rows, header mismatch). Rows with problems are dropped. */
  problems: string[];
}

/**
 * Parse CSV from `--query-gpu`. `requested` is the field list that was asked for: it is the
 * only way to name columns of `noheader` output and lets us catch a header that does not
 * match (nvidia_gpu_exporter's "field count mismatch"). Cells are split on ", " exactly as
 * nvidia-smi writes them; GPU names never contain a comma.
 */
export function parseQueryGpuCsv(output: string, requested?: readonly string[]): ParsedQueryGpuCsv {
  const lines = output.split(/\r?\n/).filter((l) => l.trim() !== "");
  const problems: string[] = [];
  let fields: string[];
  const units: Record<string, string> = {};
  const first = lines[0] ?? "";
  const looksLikeHeader = requested
    ? first
        .split(",")[0]
        ?.trim()
        .replace(/\s*\[.*\]$/, "") === requested[0]
    : true;
  if (looksLikeHeader && lines.length > 0) {
    fields = first.split(",").map((h) => {
      const m = /^\s*(.+?)\s*(?:\[(.+)\])?\s*$/.exec(h);
      const name = m?.[1] ?? h.trim();
      if (m?.[2]) units[name] = m[2];
      return name;
    });
    lines.shift();
    if (requested && fields.length !== requested.length) {
      problems.push(`header has ${fields.length} fields, ${requested.length} were requested`);
    }
  } else if (requested) {
    fields = [...requested];
  } else {
    return { fields: [], rows: [], problems: ["no header and no field list to name the columns"] };
  }
  if (lines.length === 0) problems.push("no GPU rows in the output");
  const rows: CsvGpuRow[] = [];
  lines.forEach((line, i) => {
    const cells = line.split(/,\s?/);
    if (cells.length !== fields.length) {
      problems.push(`row ${i + 1} has ${cells.length} cells, expected ${fields.length} (truncated output?)`);
      return;
    }
    const record: Record<string, string | null> = {};
    fields.forEach((f, j) => {
      const cell = cells[j]!.trim();
      record[f] = isAbsent(cell) ? null : cell;
    });
    rows.push({ cells: record, units });
  });
  return { fields, rows, problems };
}

/**
 * Field names from `nvidia-smi --help-query-gpu` (nvidia_gpu_exporter's AUTO mode): each
 * property is a line starting with a quoted name, optionally `"a" or "b"`; the first is used.
 */
export function parseHelpQueryGpu(output: string): string[] {
  const fields: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^"([^"]+)"(?:\s+or\s+"[^"]+")*\s*$/.exec(line.trim());
    if (m?.[1]) fields.push(m[1]);
  }
  return fields;
}
