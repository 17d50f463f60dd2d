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

/** Leading blanks, a tab counting as 4 (nvidia-smi indents with spaces; some captures with tabs). */
function indentOf(line: string): number {
  let width = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) width += 1;
    else if (c === 9) width += 4;
    else return width;
  }
  return -1;
}

const GPU_HEADER = /^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$/;

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
  // Walk the lines by index rather than split + regex per line: this parser runs every cycle on
  // ~70 KB (8 GPUs), and what it allocates decides how far V8 grows the agent's young heap.
  for (let start = 0; start < output.length; ) {
    let end = output.indexOf("\n", start);
    if (end < 0) end = output.length;
    const raw = output.charCodeAt(end - 1) === 13 ? output.slice(start, end - 1) : output.slice(start, end);
    start = end + 1;
    const indent = indentOf(raw);
    if (indent < 0 || raw.includes("==NVSMI LOG==")) continue;
    if (indent === 0 && raw.startsWith("GPU ")) {
      const gpuHeader = GPU_HEADER.exec(raw);
      if (gpuHeader) {
        current = { busId: gpuHeader[1]!, tree: {}, complete: false };
        result.gpus.push(current);
        stack = [[0, current.tree]];
        continue;
      }
    }
    // `Key : Value`, `Key :` (a section) or a bare word; the key ends at the first colon.
    const colon = raw.indexOf(":");
    const keyPart = colon < 0 ? "" : raw.slice(0, colon).trim();
    const key = keyPart === "" ? raw.trim() : keyPart;
    const value = keyPart === "" ? null : raw.slice(colon + 1).trim();
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
