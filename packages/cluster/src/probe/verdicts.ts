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
  | "slurm"
  | "rdma";

export interface CheckResult {
  check: CheckName;
  /** `node-<rank> (<ssh host>)`. */
  node: string;
  ok: boolean;
  /** Passed, but something deserves a look (printed WARN). */
  warning?: boolean;
  evidence: string;
}

/** Facts plus when they were taken, to judge clock skew without trusting either clock alone. */
export interface TimedFacts {
  facts: NodeFacts;
  sentAtMs: number;
  receivedAtMs: number;
}

/** A node's `ssh` line: known the moment its connection succeeds or fails. */
export function sshCheck(conn: NodeConnection, rank: number): CheckResult {
  return {
    check: "ssh",
    node: `node-${rank} (${conn.host})`,
    ok: conn.session !== undefined,
    evidence: conn.session
      ? `connected in ${conn.connectMs} ms, host key verified`
      : (conn.error ?? "not connected"),
  };
}

/** A check run on one node: an error (connection lost, command timed out) becomes that node's FAIL line. */
export async function guarded(
  check: CheckName,
  node: string,
  fn: () => Promise<CheckResult>,
): Promise<CheckResult> {
  try {
    return await fn();
  } catch (err) {
    return { check, node, ok: false, evidence: (err as Error).message };
  }
}
