import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinRelayRoom, parseRelayAddress, pingRelay } from "./client.js";
import { type RelayHandle, startRelay } from "./server.js";

let relay: RelayHandle;
beforeAll(async () => {
  relay = await startRelay({
    host: "127.0.0.1",
    ports: [0, 0, 0],
    pass: "sekrit",
    limits: { handshakeTimeoutMs: 2500, pingIntervalMs: 50 },
  });
});
afterAll(() => relay.close());

const at = () => ({ host: "127.0.0.1", port: relay.ports[0] as number });

describe("relay", () => {
  it("pairs two members, pipes frames and pings the waiting one", async () => {
    const a = await joinRelayRoom({ relay: at(), password: "sekrit", room: "room-1" });
    expect(a.dataPorts).toEqual(relay.ports.slice(1));
    expect(a.externalAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    await new Promise((r) => setTimeout(r, 150)); // pings arrive and are dropped by the reader
    const b = await joinRelayRoom({ relay: at(), password: " sekrit\n", room: "room-1" });
    await b.conn.write(Buffer.from("hello"));
    expect((await a.conn.read(2000)).toString()).toBe("hello");
    await a.conn.write(Buffer.alloc(100_000, 9));
    expect((await b.conn.read(2000)).length).toBe(100_000);
    await expect(joinRelayRoom({ relay: at(), password: "sekrit", room: "room-1" })).rejects.toThrow(
      /room is full/,
    );
    a.conn.close();
    await expect(b.conn.read(2000)).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 50));
    expect(relay.roomCount()).toBe(0);
  });

  it("data ports answer ok instead of a banner", async () => {
    const d = await joinRelayRoom({
      relay: { host: "127.0.0.1", port: relay.ports[1] as number },
      password: "sekrit",
      room: "x-0",
    });
    expect(d.dataPorts).toEqual([]);
    d.conn.close();
  });

  it("refuses a wrong relay password", async () => {
    await expect(joinRelayRoom({ relay: at(), password: "nope", room: "r" })).rejects.toThrow(/bad password/);
  });

  it("answers ping with pong", async () => {
    expect(await pingRelay(at())).toBe(true);
  });

  it("drops bad magic, huge lengths and silent clients", async () => {
    for (const payload of [
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.from("63726f63ffffff7f", "hex"),
      Buffer.alloc(0),
    ]) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = connect(relay.ports[0] as number, "127.0.0.1", () => s.write(payload));
        s.on("close", () => resolve(true));
        s.on("error", () => {});
        setTimeout(() => resolve(false), 8000);
      });
      expect(closed).toBe(true);
    }
  });

  it("parses relay addresses like croc", () => {
    expect(parseRelayAddress("relay.example:9100")).toEqual({ host: "relay.example", port: 9100 });
    expect(parseRelayAddress("relay.example")).toEqual({ host: "relay.example", port: 9009 });
    expect(parseRelayAddress("[::1]:9009")).toEqual({ host: "::1", port: 9009 });
    expect(parseRelayAddress("::1")).toEqual({ host: "::1", port: 9009 });
    expect(() => parseRelayAddress("h:0")).toThrow(/invalid relay address: --relay: "h:0" is not HOST:PORT/);
  });
});
