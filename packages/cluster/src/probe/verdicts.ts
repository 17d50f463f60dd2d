/**
 * The verdict lines every verb prints (`PASS|FAIL check node evidence`), and the first of them: the
 * `ssh` line of each node, known as soon as its connection succeeds or fails.
 */
import type { NodeConnection } from "../ssh/fan-out.js";
import type { NodeFacts } from "./node-facts.js";

export type CheckName =
  | "ssh"
  | "interface"
  | "route"
  | "hostname"
  | "tcp-primary"
  | "peers"
  | "env"
  | "clock"
  | "gpus"
  | "versions"
  | "munge"
  | "slurm";

export interface CheckResult {
  check: CheckName;
  /** `node-<rank> (<ssh host>)`. */
  node: string;
  ok: boolean;
  evidence: string;
}

/** Facts plus when they were taken, to judge clock skew without trusting either clock alone. */
export interface TimedFacts {
  facts: NodeFacts;
  sentAtMs: number;
  receivedAtMs: number;
}

/** The `ssh` check line of every node, and whether all connected. */
export function sshChecks(conns: readonly NodeConnection[], ranks: readonly number[]): CheckResult[] {
  return conns.map((c) => ({
    check: "ssh" as const,
    node: `node-${ranks[c.index]} (${c.host})`,
    ok: c.session !== undefined,
    evidence: c.session ? `connected in ${c.connectMs} ms, host key verified` : (c.error ?? "not connected"),
  }));
}
