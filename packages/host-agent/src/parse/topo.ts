/** `nvidia-smi topo -m`: the GPU interconnect matrix (NV#, PIX, SYS, …) and each GPU's CPU/NUMA affinity. */
export interface TopologyMatrix {
  devices: string[];
  links: Record<string, Record<string, string>>;
  cpuAffinity: Record<string, string | null>;
  numaAffinity: Record<string, string | null>;
}

const ANSI = /\x1b\[[0-9;]*m/g;

export function parseTopoMatrix(output: string): TopologyMatrix | null {
  const lines = output.split(/\r?\n/).map((l) => l.replace(ANSI, ""));
  const headerIndex = lines.findIndex((l) => /^\s*GPU0\b/.test(l) || /^\t\s*GPU0\b/.test(l));
  if (headerIndex < 0) return null;
  const header = lines[headerIndex]!.split("\t")
    .map((c) => c.trim())
    .filter(Boolean);
  const devices = header.filter((h) => /^(GPU|NIC|mlx)\S*$/.test(h));
  const cpuCol = header.indexOf("CPU Affinity");
  const numaCol = header.indexOf("NUMA Affinity");
  const matrix: TopologyMatrix = { devices, links: {}, cpuAffinity: {}, numaAffinity: {} };
  for (const line of lines.slice(headerIndex + 1)) {
    if (line.trim() === "" || line.startsWith("Legend")) break;
    const cells = line.split("\t").map((c) => c.trim());
    const name = cells[0]!;
    if (!devices.includes(name)) continue;
    const row: Record<string, string> = {};
    devices.forEach((d, i) => {
      row[d] = cells[i + 1] ?? "";
    });
    matrix.links[name] = row;
    matrix.cpuAffinity[name] = cpuCol >= 0 ? cells[cpuCol + 1] || null : null;
    matrix.numaAffinity[name] = numaCol >= 0 ? cells[numaCol + 1] || null : null;
  }
  return matrix;
}

export interface NvlinkStatus {
  /** GPU index → per-link speed in GB/s (null for an inactive link). */
  gpus: Record<number, Array<number | null>>;
  /** Why NVLink is not reported at all ("not supported in MIG mode", "no NVLink"). */
  unsupported: string | null;
}

/** `nvidia-smi nvlink -s` / `--status`. */
export function parseNvlinkStatus(output: string): NvlinkStatus {
  const status: NvlinkStatus = { gpus: {}, unsupported: null };
  let gpu: number | null = null;
  for (const line of output.split(/\r?\n/)) {
    const head = /^GPU (\d+):/.exec(line);
    if (head) {
      gpu = Number(head[1]);
      status.gpus[gpu] = [];
      continue;
    }
    if (/not supported|does not have or support Nvlink/i.test(line)) status.unsupported = line.trim();
    const link = /^\s*Link (\d+):\s*(.*)$/.exec(line);
    if (link && gpu !== null) {
      const speed = /([\d.]+)\s*GB\/s/.exec(link[2]!);
      status.gpus[gpu]![Number(link[1])] = speed ? Number(speed[1]) : null;
    }
  }
  return status;
}
