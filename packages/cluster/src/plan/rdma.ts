/**
 * What NCCL needs to use a node's RDMA ports: NCCL_IB_HCA (active ports only, exact names),
 * NCCL_IB_GID_INDEX on RoCE (the RoCE v2 GID), or NCCL_IB_DISABLE when the file forces sockets.
 * NCCL_SOCKET_IFNAME stays the cluster NIC either way: NCCL bootstraps over it.
 */
import type { RdmaPort } from "../probe/rdma.js";
import { rocev2GidIndex } from "../probe/rdma.js";

export type Transport = "auto" | "sockets";

export const portName = (p: RdmaPort) => `${p.device}:${p.port}`;
export const activePorts = (ports: readonly RdmaPort[]) => ports.filter((p) => p.state === "ACTIVE");

/** The NCCL variables of one node, in a stable order (none on a node without RDMA devices). */
export function rdmaEnv(ports: readonly RdmaPort[], transport: Transport): Array<[string, string]> {
  if (ports.length === 0) return [];
  if (transport === "sockets") return [["NCCL_IB_DISABLE", "1"]];
  const active = activePorts(ports);
  if (active.length === 0) return [];
  // "=" makes NCCL match names exactly (mlx5_1 would otherwise also pick mlx5_10..mlx5_19).
  const env: Array<[string, string]> = [["NCCL_IB_HCA", `=${active.map(portName).join(",")}`]];
  const roce = active.find((p) => p.linkLayer === "Ethernet");
  const gid = roce && rocev2GidIndex(roce);
  if (gid !== undefined) env.push(["NCCL_IB_GID_INDEX", String(gid)]);
  return env;
}
