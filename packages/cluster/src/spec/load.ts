import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { type ClusterSpec, ClusterSpecSchema, ConfigError, parseWith } from "@podkit/core";
import { parse as parseYaml } from "yaml";

/** A validated cluster file, with every path in it made absolute against the file's folder. */
export interface LoadedClusterSpec {
  spec: ClusterSpec;
  /** The file it came from (absolute), or "<inline>". */
  source: string;
}

/** Parse the text of a `cluster.yaml` (YAML or JSON); relative key paths resolve against `baseDir`. */
export function parseClusterSpec(text: string, baseDir: string, source = "<inline>"): LoadedClusterSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (raw === null || typeof raw !== "object") {
    throw new ConfigError(
      `${source} must be a YAML mapping with at least "nodes:" (see podkit cluster --help)`,
    );
  }
  const spec = parseWith(ClusterSpecSchema, raw, `cluster file ${source}`);
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const ssh = { ...spec.ssh };
  const identityFile = abs(ssh.identityFile);
  const knownHosts = abs(ssh.knownHosts);
  if (identityFile !== undefined) ssh.identityFile = identityFile;
  if (knownHosts !== undefined) ssh.knownHosts = knownHosts;
  const nodes = spec.nodes.map((n) => {
    const id = abs(n.identityFile);
    return id === undefined ? n : { ...n, identityFile: id };
  });
  if (spec.trainersPerNode !== undefined && spec.gpusPerNode !== "auto") {
    throw new ConfigError(
      `${source}: gpusPerNode (${spec.gpusPerNode}) and trainersPerNode (${spec.trainersPerNode}) both say how many processes a node runs; keep gpusPerNode for GPU work or trainersPerNode for CPU/gloo work`,
    );
  }
  const seen = new Set<string>();
  for (const n of nodes) {
    const key = `${n.host}:${n.port ?? ssh.port ?? 22}`;
    if (seen.has(key))
      throw new ConfigError(`${source}: node ${key} is listed twice; list each machine once`);
    seen.add(key);
  }
  return { spec: { ...spec, ssh, nodes }, source };
}

/** Read and validate a cluster file from disk. */
export function loadClusterSpec(file: string): LoadedClusterSpec {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read cluster file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (pass one with -f cluster.yaml)`,
      { cause: err },
    );
  }
  return parseClusterSpec(text, dirname(path), path);
}
