import type { RoomPlan } from "../code/code.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { joinRelayRoom, type RelayAddress } from "../relay/client.js";
import { TransferError } from "./errors.js";

/**
 * Opens one data connection per port in the control port's banner, on the same host, each in room
 * `dataRoom(j)`. Both peers must open the same number or chunks land in rooms nobody reads.
 */
export async function openDataConnections(options: {
  relay: RelayAddress;
  password: string;
  dataPorts: readonly number[];
  plan: RoomPlan;
  signal?: AbortSignal;
}): Promise<FramedSocket[]> {
  if (options.dataPorts.length === 0) {
    throw new TransferError(
      "E_RELAY",
      "the relay advertises no data ports; use a croc-compatible relay with at least two ports",
    );
  }
  const joined = await Promise.allSettled(
    options.dataPorts.map((port, j) =>
      joinRelayRoom({
        relay: { host: options.relay.host, port },
        password: options.password,
        room: options.plan.dataRoom(j),
        signal: options.signal,
      }),
    ),
  );
  const failed = joined.find((r) => r.status === "rejected");
  if (failed) {
    for (const r of joined) if (r.status === "fulfilled") r.value.conn.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  return joined.map((r) => (r as PromiseFulfilledResult<{ conn: FramedSocket }>).value.conn);
}
