/**
 * The default `nvidia-smi` table: only used as a last-resort view (GPU count, bus ids) and to
 * spot `ERR!` cells, which mean a sensor or fan read failed.
 */
export interface SmiTableGpu {
  index: number;
  name: string;
  pciBusId: string;
  errorCells: string[];
}

export interface SmiTable {
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: SmiTableGpu[];
}

export function parseSmiTable(output: string): SmiTable {
  const table: SmiTable = {
    driverVersion: /Driver Version:\s*(\S+)/.exec(output)?.[1] ?? null,
    cudaVersion: /CUDA Version:\s*(\S+)/.exec(output)?.[1] ?? null,
    gpus: [],
  };
  const lines = output.split(/\r?\n/);
  lines.forEach((line, i) => {
    const m =
      /^\|\s+(\d+)\s+(.+?)\s+(?:On|Off)\s+\|\s+([0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)/.exec(line);
    if (!m) return;
    const next = lines[i + 1] ?? "";
    const errorCells = [line, next]
      .flatMap((l) => l.split("|"))
      .filter((c) => /ERR!/.test(c))
      .map((c) => c.trim());
    table.gpus.push({ index: Number(m[1]), name: m[2]!.trim(), pciBusId: m[3]!, errorCells });
  });
  return table;
}
