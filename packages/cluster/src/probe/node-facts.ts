import { shellQuote } from "../ssh/shell-quote.js";
import { parseEnvLines } from "./env-lines.js";
import { parseRdma, type RdmaPort, rdmaScript } from "./rdma.js";

/**
 * What `up` learns about a node before planning: one shell script run over SSH, its output cut into
 * `@@section` blocks and parsed by a pure function (so the parser is tested on recorded output).
 */

export interface NodeInterface {
  name: string;
  up: boolean;
  ipv4: Array<{ address: string; prefix: number }>;
}

export interface NodeFacts {
  hostname: string;
  /** Node clock (seconds since the epoch) when the script ran. */
  epochSeconds: number;
  interfaces: NodeInterface[];
  /** Addresses `getent ahostsv4 $(hostname)` returns, in order (what gloo and c10d will use). */
  hostnameResolvesTo: string[];
  gpuCount: number;
  gpuSource: "nvidia-smi" | "/dev/nvidiaN" | "none";
  cpus: number;
  memoryMiB: number;
  torchVersion?: string;
  ncclVersion?: string;
  driverVersion?: string;
  hasPython: boolean;
  hasMunge: boolean;
  /** RDMA ports (InfiniBand or RoCE) from /sys/class/infiniband; empty on plain Ethernet nodes. */
  rdma: RdmaPort[];
  /** The environment of the probe's SSH session (pam_env applied: what a job launched now sees). */
  sessionEnv: Map<string, string>;
  /** Current content of the files `up` manages; null when the file does not exist. */
  files: Record<string, string | null>;
}

export const MANAGED_TEXT_FILES = [
  "/etc/environment",
  "/etc/hosts",
  "/etc/podkit/cluster.env",
  "/etc/podkit/cluster/nodes",
  "/etc/podkit/cluster/hostfile",
] as const;

/** A `@@file <path>` section with the file's bytes in base64, or `@@nofile <path>`. */
export const FILE_SECTION = (path: string) =>
  `if [ -f ${path} ]; then echo "@@file ${path}"; base64 -w0 < ${path}; echo; else echo "@@nofile ${path}"; fi`;

const PKGS_PY = `import os, sys
seen = set()
for d in sys.path:
  try: names = os.listdir(d or ".")
  except OSError: continue
  for n in names:
    for pkg in ("torch", "nvidia_nccl_cu12", "nvidia_nccl_cu11"):
      if pkg not in seen and n.startswith(pkg + "-") and n.endswith((".dist-info", ".egg-info")):
        seen.add(pkg); print(pkg.replace("_", "-"), n[len(pkg) + 1:].rsplit(".", 1)[0].split("-py")[0])`;

/** Runs with /bin/sh on the node; every probe is optional and quick (no `import torch`). */
export const FACTS_SCRIPT = [
  "export LC_ALL=C PATH=$PATH:/usr/sbin:/sbin",
  'echo "@@hostname"; hostname',
  'echo "@@time"; date +%s.%N',
  'echo "@@addr"; ip -o -4 addr show 2>&1',
  'echo "@@link"; ip -o link show 2>&1',
  'echo "@@resolve"; getent ahostsv4 "$(hostname)" 2>/dev/null',
  'echo "@@gpus-smi"; command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null',
  'echo "@@gpus-dev"; ls /dev 2>/dev/null | grep -E "^nvidia[0-9]+$"',
  'echo "@@driver"; command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1',
  'echo "@@cpus"; nproc',
  'echo "@@meminfo"; grep -E "^MemTotal:" /proc/meminfo',
  'echo "@@python"; command -v python3',
  // Package versions from the dist-info/egg-info names on sys.path: importlib.metadata gives the same
  // answer at twice the CPU, and 8 nodes sharing a host run this at once.
  `echo "@@pkgs"; command -v python3 >/dev/null 2>&1 && python3 -c ${shellQuote(PKGS_PY)} 2>/dev/null`,
  "echo \"@@libnccl\"; ldconfig -p 2>/dev/null | grep -o 'libnccl\\.so\\.[0-9.]*' | head -n1",
  'echo "@@munge"; command -v munge',
  `echo "@@rdma"\n${rdmaScript()}`,
  'echo "@@env"; env',
  ...MANAGED_TEXT_FILES.map(FILE_SECTION),
  'echo "@@end"',
].join("\n");

/** Split `@@name` sections; the same name may carry an argument (`@@file /etc/hosts`). */
export function splitSections(output: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    if (line.startsWith("@@")) {
      current = [];
      sections.set(line.slice(2).trim(), current);
    } else if (current) {
      current.push(line);
    }
  }
  return sections;
}

/** The files FILE_SECTION printed: path → content, null where the file does not exist. */
export function fileSections(sections: Map<string, string[]>): Record<string, string | null> {
  const files: Record<string, string | null> = {};
  for (const [name, lines] of sections) {
    if (name.startsWith("file "))
      files[name.slice(5)] = Buffer.from(lines.join(""), "base64").toString("utf8");
    else if (name.startsWith("nofile ")) files[name.slice(7)] = null;
  }
  return files;
}

const nonEmpty = (lines: string[] | undefined) => (lines ?? []).map((l) => l.trim()).filter((l) => l !== "");

export function parseInterfaces(addrLines: string[], linkLines: string[]): NodeInterface[] {
  const byName = new Map<string, NodeInterface>();
  for (const line of linkLines) {
    // "3: ens1@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode ..."
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$/.exec(line.trim());
    if (!m) continue;
    const flags = (m[2] ?? "").split(",");
    const stateDown = /\sstate DOWN\b/.test(m[3] ?? "");
    byName.set(m[1]!, { name: m[1]!, up: flags.includes("UP") && !stateDown, ipv4: [] });
  }
  for (const line of addrLines) {
    // "3: ens1    inet 10.65.0.2/24 brd 10.65.0.255 scope global ens1\       valid_lft forever ..."
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\/(\d+)/.exec(line.trim());
    if (!m) continue;
    const name = m[1]!;
    const iface = byName.get(name) ?? { name, up: true, ipv4: [] };
    iface.ipv4.push({ address: m[2]!, prefix: Number(m[3]) });
    byName.set(name, iface);
  }
  return [...byName.values()];
}

function parseVersions(lines: string[]): { torch?: string; nccl?: string } {
  const out: { torch?: string; nccl?: string } = {};
  for (const line of lines) {
    const [pkg, version] = line.split(/\s+/);
    if (!version) continue;
    if (pkg === "torch") out.torch = version;
    else if (pkg?.startsWith("nvidia-nccl") && out.nccl === undefined) out.nccl = version;
  }
  return out;
}

/** Parse the output of FACTS_SCRIPT. Throws when the script clearly did not run to its end. */
export function parseFacts(output: string): NodeFacts {
  const s = splitSections(output);
  if (!s.has("end")) throw new Error("node facts are incomplete (the probe script did not finish)");
  const smi = nonEmpty(s.get("gpus-smi")).filter((l) => /^GPU \d+:/.test(l));
  const dev = nonEmpty(s.get("gpus-dev"));
  const versions = parseVersions(nonEmpty(s.get("pkgs")));
  const libnccl = nonEmpty(s.get("libnccl"))[0]?.replace(/^libnccl\.so\./, "");
  const mem = /MemTotal:\s+(\d+)\s*kB/.exec(nonEmpty(s.get("meminfo"))[0] ?? "");
  const files = fileSections(s);
  const resolved = nonEmpty(s.get("resolve"))
    .map((l) => l.split(/\s+/)[0]!)
    .filter((a, i, all) => all.indexOf(a) === i);
  const facts: NodeFacts = {
    hostname: nonEmpty(s.get("hostname"))[0] ?? "",
    epochSeconds: Number(nonEmpty(s.get("time"))[0] ?? "0"),
    interfaces: parseInterfaces(nonEmpty(s.get("addr")), nonEmpty(s.get("link"))),
    hostnameResolvesTo: resolved,
    gpuCount: smi.length > 0 ? smi.length : dev.length,
    gpuSource: smi.length > 0 ? "nvidia-smi" : dev.length > 0 ? "/dev/nvidiaN" : "none",
    cpus: Number(nonEmpty(s.get("cpus"))[0] ?? "0"),
    memoryMiB: mem ? Math.floor(Number(mem[1]) / 1024) : 0,
    hasPython: nonEmpty(s.get("python")).length > 0,
    hasMunge: nonEmpty(s.get("munge")).length > 0,
    rdma: parseRdma(nonEmpty(s.get("rdma"))),
    sessionEnv: parseEnvLines((s.get("env") ?? []).join("\n")),
    files,
  };
  if (versions.torch) facts.torchVersion = versions.torch;
  const nccl = versions.nccl ?? libnccl;
  if (nccl) facts.ncclVersion = nccl;
  const driver = nonEmpty(s.get("driver"))[0];
  if (driver) facts.driverVersion = driver;
  return facts;
}
