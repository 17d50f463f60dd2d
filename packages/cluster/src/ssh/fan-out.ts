import type { ClusterSpec } from "@podkit/core";
import { SshConnectError, SshSession, type SshTrust } from "./session.js";

export interface NodeConnection {
  index: number;
  host: string;
  port: number;
  session?: SshSession;
  error?: string;
  hostKeyProblem?: boolean;
  connectMs: number;
}

type ConnectOpts = { acceptNewHostKeys?: boolean; timeoutMs?: number };

/** Open SSH to one node of the spec; a failure comes back as the connection's error, never thrown. */
export async function connectNode(
  spec: ClusterSpec,
  index: number,
  opts: ConnectOpts = {},
): Promise<NodeConnection> {
  const trust: SshTrust = { knownHostsFile: spec.ssh.knownHosts, acceptNew: opts.acceptNewHostKeys ?? false };
  const node = spec.nodes[index]!;
  const port = node.port ?? spec.ssh.port ?? 22;
  const started = Date.now();
  try {
    const session = await SshSession.connect(
      {
        host: node.host,
        port,
        user: node.user ?? spec.ssh.user,
        identityFile: node.identityFile ?? spec.ssh.identityFile,
        hostKeyFingerprint: node.hostKeyFingerprint,
      },
      trust,
      opts.timeoutMs ?? spec.ssh.connectTimeoutMs ?? 5000,
    );
    return { index, host: node.host, port, session, connectMs: Date.now() - started };
  } catch (err) {
    return {
      index,
      host: node.host,
      port,
      error: (err as Error).message,
      hostKeyProblem: err instanceof SshConnectError && err.hostKeyProblem,
      connectMs: Date.now() - started,
    };
  }
}

/** Open SSH to every node at once; a node that fails carries its error instead of a session. */
export function connectAll(spec: ClusterSpec, opts: ConnectOpts = {}): Promise<NodeConnection[]> {
  return Promise.all(spec.nodes.map((_, index) => connectNode(spec, index, opts)));
}

export function closeAll(conns: readonly NodeConnection[]): void {
  for (const c of conns) c.session?.close();
}

/** Run `fn` on every connected node at once, keeping the nodes' order. */
export function onEachNode<T>(
  conns: readonly NodeConnection[],
  fn: (session: SshSession, conn: NodeConnection) => Promise<T>,
): Promise<Array<{ ok: true; value: T } | { ok: false; error: string }>> {
  return Promise.all(
    conns.map(async (c) => {
      if (!c.session) return { ok: false as const, error: c.error ?? "not connected" };
      try {
        return { ok: true as const, value: await fn(c.session, c) };
      } catch (err) {
        return { ok: false as const, error: (err as Error).message };
      }
    }),
  );
}

/** The session of a node known to be connected (the verbs only run checks once every node is). */
export const sessionOf = (conns: readonly NodeConnection[], node: { index: number }): SshSession =>
  conns[node.index]!.session!;
