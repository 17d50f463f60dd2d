/**
 * `nvidia-smi -q` (text): an indented tree of `Key : Value` lines, one `GPU <bus id>` block per
 * device. Parsed into nested maps; a block that stops before its last section (`Processes`)
 * or fewer blocks than `Attached GPUs` mark the output as truncated.
 */
export interface QueryTextNode {
  [key: string]: string | QueryTextNode;
}

export interface QueryTextGpu {
  busId: string;
  tree: QueryTextNode;
  complete: boolean;
}

export interface ParsedQueryText {
  driverVersion: string | null;
  cudaVersion: string | null;
  attachedGpus: number | null;
  gpus: QueryTextGpu[];
  problems: string[];
}

function indentOf(line: string): number {
  return line.replace(/\t/g, "    ").search(/\S/);
}

export function parseQueryText(output: string): ParsedQueryText {
  const result: ParsedQueryText = {
    driverVersion: null,
    cudaVersion: null,
    attachedGpus: null,
    gpus: [],
    problems: [],
  };
  let current: QueryTextGpu | null = null;
  // Stack of [indent, node] so nested sections land under their parent.
  let stack: Array<[number, QueryTextNode]> = [];
  for (const raw of output.split(/\r?\n/)) {
    if (raw.trim() === "" || raw.includes("==NVSMI LOG==")) continue;
    const gpuHeader = /^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$/.exec(raw);
    if (gpuHeader) {
      current = { busId: gpuHeader[1]!, tree: {}, complete: false };
      result.gpus.push(current);
      stack = [[0, current.tree]];
      continue;
    }
    const indent = indentOf(raw);
    const m = /^\s*([^:]+?)\s*:\s?(.*)$/.exec(raw);
    const key = (m?.[1] ?? raw).trim();
    const value = m ? m[2]!.trim() : null;
    if (!current) {
      if (key === "Driver Version" && value) result.driverVersion = value;
      else if (key === "CUDA Version" && value) result.cudaVersion = value;
      else if (key === "Attached GPUs" && value) result.attachedGpus = Number.parseInt(value, 10);
      continue;
    }
    while (stack.length > 1 && stack[stack.length - 1]![0] >= indent) stack.pop();
    const parent = stack[stack.length - 1]![1];
    if (value === null) {
      const node: QueryTextNode = {};
      parent[key] = node;
      stack.push([indent, node]);
    } else {
      parent[key] = value;
    }
    // Every complete GPU block ends with its `Processes` section (a value "None" or a list).
    if (key === "Processes" && indent <= 4) current.complete = true;
  }
  if (result.attachedGpus !== null && result.gpus.length < result.attachedGpus) {
    result.problems.push(
      `output lists ${result.gpus.length} of ${result.attachedGpus} attached GPUs (truncated?)`,
    );
  }
  for (const gpu of result.gpus) {
    if (!gpu.complete)
      result.problems.push(`GPU ${gpu.busId}: output ends before the GPU's last section (truncated)`);
  }
  return result;
}

/** Value at a path of section names (`["Temperature", "GPU Current Temp"]`), or null. */
export function pick(tree: QueryTextNode, ...path: string[]): string | null {
  let node: string | QueryTextNode | undefined = tree;
  for (const p of path) {
    if (node === undefined || typeof node === "string") return null;
    node = node[p];
  }
  return typeof node === "string" ? node : null;
}
