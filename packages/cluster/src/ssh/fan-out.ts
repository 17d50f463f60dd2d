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

/** Open SSH to every node at once; a node that fails carries its error instead of a session. */
export async function connectAll(
  spec: ClusterSpec,
  opts: { acceptNewHostKeys?: boolean; timeoutMs?: number } = {},
): Promise<NodeConnection[]> {
  const trust: SshTrust = { knownHostsFile: spec.ssh.knownHosts, acceptNew: opts.acceptNewHostKeys ?? false };
  return Promise.all(
    spec.nodes.map(async (node, index): Promise<NodeConnection> => {
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
    }),
  );
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
