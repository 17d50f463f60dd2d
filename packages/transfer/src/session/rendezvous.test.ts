import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinRelayRoom } from "../relay/client.js";
import { type RelayHandle, startRelay } from "../relay/server.js";
import { type RoomCandidate, receiverRendezvous } from "./rendezvous.js";

// Keep-alives every minute: within a test, the only ping a lone member gets is the one at joining.
let relay: RelayHandle;
beforeAll(async () => {
  relay = await startRelay({
    host: "127.0.0.1",
    ports: [0, 0],
    pass: "pw",
    limits: { pingIntervalMs: 60_000 },
  });
});
afterAll(() => relay.close());

const profile = () => ({ relay: { host: "127.0.0.1", port: relay.ports[0] as number }, password: "pw" });
const candidates = (tag: string): RoomCandidate[] => [
  { generation: "b", profile: profile(), room: `${tag}-room-b` },
  { generation: "a", profile: profile(), room: `${tag}-room-a` },
];

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("receiver rendezvous", () => {
  it("the relay pings a member waiting alone as soon as it joins, as croc's relay does", async () => {
    const alone = await joinRelayRoom({ relay: profile().relay, password: "pw", room: "lonely" });
    await waitFor(() => alone.conn.pings > 0, 10_000);
    alone.conn.close();
  });

  it("takes the room a sender already waits in as soon as the relay shows the others are empty", async () => {
    // A sender of generation A is in its room; the receiver does not know which generation to expect.
    const sender = await joinRelayRoom({ relay: profile().relay, password: "pw", room: "early-room-a" });
    const graceMs = 30_000; // what a relay that never pinged at once would cost
    const started = Date.now();
    const met = await receiverRendezvous(candidates("early"), 60_000, undefined, undefined, {
      aloneGraceMs: graceMs,
      pingsStoppedMs: graceMs,
    });
    expect(met.candidate.generation).toBe("a");
    expect(Date.now() - started).toBeLessThan(graceMs / 3);
    // The receiver's room is the sender's: what it says reaches the sender.
    await met.rc.conn.write(Buffer.from("hello"));
    expect((await sender.conn.read(5000)).toString()).toBe("hello");
    met.rc.conn.close();
    sender.conn.close();
    await waitFor(() => relay.roomCount() === 0, 5000); // the empty room and the control room are left
  });

  it("with nobody there yet, waits, and takes the room that falls a ping behind when a sender joins it", async () => {
    // A relay pinging every 200 ms; stopped pings alone would take the 30 s given here to notice.
    const fast = await startRelay({
      host: "127.0.0.1",
      ports: [0, 0],
      pass: "pw",
      limits: { pingIntervalMs: 200 },
    });
    try {
      const at = { relay: { host: "127.0.0.1", port: fast.ports[0] as number }, password: "pw" };
      const rooms: RoomCandidate[] = [
        { generation: "b", profile: at, room: "late-room-b" },
        { generation: "a", profile: at, room: "late-room-a" },
      ];
      let settled = false;
      const meeting = receiverRendezvous(rooms, 60_000, undefined, undefined, {
        aloneGraceMs: 30_000,
        pingsStoppedMs: 30_000,
      }).finally(() => {
        settled = true;
      });
      await waitFor(() => fast.roomCount() === 3, 10_000); // both candidates and the control room
      await new Promise((r) => setTimeout(r, 1000));
      expect(settled).toBe(false); // nobody is there: it keeps waiting
      const sender = await joinRelayRoom({ relay: at.relay, password: "pw", room: "late-room-a" });
      const joinedAt = Date.now();
      const met = await meeting;
      expect(met.candidate.generation).toBe("a");
      expect(Date.now() - joinedAt).toBeLessThan(10_000);
      met.rc.conn.close();
      sender.conn.close();
    } finally {
      await fast.close();
    }
  }, 30_000);
});
