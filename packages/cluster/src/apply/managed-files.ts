/**
 * Pure edits of the text files `up` manages on each node. Podkit owns one marked block per file and
 * comments out (never deletes) the lines outside it that would contradict the block, so `down` can
 * put every file back exactly as it was.
 */
import type { ClusterPlan, PlannedNode } from "../plan/planner.js";

const BEGIN = (name: string) =>
  `# >>> podkit cluster ${name} (managed by podkit; "podkit cluster down" removes it) >>>`;
/** Added to the BEGIN line when the original file had no final newline, so `down` restores it byte for byte. */
const NO_EOL = " noeol";
const END = (name: string) => `# <<< podkit cluster ${name} <<<`;
/** Prefix of a line podkit commented out because it contradicted the block. */
export const DISABLED_PREFIX = "#podkit-disabled# ";
/** Suffix of a line podkit added outside the block (what remained of a disabled line). */
export const KEPT_SUFFIX = " #podkit-kept";

const BLOCK_BEGIN_RE = /^# >>> podkit cluster \S+ /;
const BLOCK_END_RE = /^# <<< podkit cluster \S+ <<<$/;

/** Undo everything podkit did to a file: drop its block and kept lines, re-enable disabled lines. */
export function removeManagedBlock(content: string): string {
  const out: string[] = [];
  let inBlock = false;
  let noEol = false;
  const lines = content.split("\n");
  const trailingNewline = content.endsWith("\n");
  if (trailingNewline) lines.pop();
  for (const line of lines) {
    if (BLOCK_BEGIN_RE.test(line)) {
      inBlock = true;
      noEol = line.endsWith(NO_EOL);
    } else if (inBlock && BLOCK_END_RE.test(line)) inBlock = false;
    else if (inBlock || line.endsWith(KEPT_SUFFIX)) continue;
    else out.push(line.startsWith(DISABLED_PREFIX) ? line.slice(DISABLED_PREFIX.length) : line);
  }
  return out.length === 0 ? "" : `${out.join("\n")}${trailingNewline && !noEol ? "\n" : ""}`;
}

/**
 * Put `blockLines` into `content` as podkit's block (at the end). `rewrite` looks at every other
 * active line: it returns the line unchanged, `null` to disable it, or a replacement (the original is
 * disabled and the replacement kept next to it).
 */
export function applyManagedBlock(
  content: string,
  name: string,
  blockLines: readonly string[],
  rewrite: (line: string) => string | null,
): string {
  const base = removeManagedBlock(content);
  const out: string[] = [];
  const lines = base === "" ? [] : base.split("\n");
  if (base.endsWith("\n")) lines.pop();
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      out.push(line);
      continue;
    }
    const replaced = rewrite(line);
    if (replaced === line) out.push(line);
    else {
      out.push(`${DISABLED_PREFIX}${line}`);
      if (replaced !== null) out.push(`${replaced}${KEPT_SUFFIX}`);
    }
  }
  const noEol = base !== "" && !base.endsWith("\n");
  return [...out, BEGIN(name) + (noEol ? NO_EOL : ""), ...blockLines, END(name)].join("\n") + "\n";
}

/**
 * /etc/hosts with the cluster's names. A line that maps one of the cluster's names elsewhere (the
 * Docker-style `172.x node-0`, Debian's `127.0.1.1 host`) is disabled; its other names are kept.
 */
export function renderHostsFile(current: string, plan: ClusterPlan): string {
  const owned = new Map<string, string>();
  for (const line of plan.hostsLines) {
    const [addr, ...names] = line.split(/\s+/);
    for (const n of names) owned.set(n, addr!);
  }
  return applyManagedBlock(current, plan.name, plan.hostsLines, (line) => {
    const [addr, ...rest] = line.replace(/#.*$/, "").trim().split(/\s+/);
    if (!addr || rest.length === 0) return line;
    const clashing = rest.filter((n) => owned.has(n) && owned.get(n) !== addr);
    if (clashing.length === 0) return line;
    const remaining = rest.filter((n) => !clashing.includes(n));
    return remaining.length === 0 ? null : `${addr} ${remaining.join(" ")}`;
  });
}

const envLines = (node: PlannedNode) => node.env.map(([k, v]) => `${k}=${v}`);

/** /etc/environment (read by pam_env for every SSH login and exec): same keys outside the block are disabled. */
export function renderEnvironmentFile(current: string, plan: ClusterPlan, node: PlannedNode): string {
  const keys = new Set(node.env.map(([k]) => k));
  return applyManagedBlock(current, plan.name, envLines(node), (line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(line)?.[1];
    return key !== undefined && keys.has(key) ? null : line;
  });
}

/** /etc/podkit/cluster.env: `KEY=VALUE` lines, loadable with `set -a; . file` or `docker --env-file`. */
export function renderClusterEnvFile(plan: ClusterPlan, node: PlannedNode): string {
  return [
    `# podkit cluster ${plan.name}: node-${node.rank} of ${plan.numNodes} (written by "podkit cluster up")`,
    ...envLines(node),
    "",
  ].join("\n");
}
