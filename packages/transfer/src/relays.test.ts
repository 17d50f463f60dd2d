import { describe, expect, it } from "vitest";
import { CROC_PUBLIC_RELAY, chooseRelays, RUNPODCTL_RELAYS } from "./relays.js";

describe("relay choice", () => {
  it("an explicit --relay always wins, even over a runpodctl relay index", () => {
    const c = chooseRelays("8338-galileo-collect-fidel-3", { relay: "127.0.0.1:9100", pass: "x" });
    expect(c.a).toEqual({ relay: { host: "127.0.0.1", port: 9100 }, password: "x" });
    expect(c.b).toEqual(c.a);
    expect(chooseRelays("8338-a-b-c", { relay: "[::1]" }).a.password).toBe("pass123");
  });

  it("a runpodctl code's index picks runpodctl's relay for generation A, croc's public relay for B", () => {
    const c = chooseRelays("8338-galileo-collect-fidel-3");
    expect(c.a).toBe(RUNPODCTL_RELAYS[3]);
    expect(c.a.relay).toEqual({ host: "relay3.runpod.net", port: 9009 });
    expect(c.b).toBe(CROC_PUBLIC_RELAY);
  });

  it("a plain croc code uses croc's public relay", () => {
    expect(chooseRelays("8338-galileo-collect-fidel").a).toBe(CROC_PUBLIC_RELAY);
  });

  it("an unknown relay index is a clear error", () => {
    expect(() => chooseRelays("8338-galileo-collect-fidel-99")).toThrow(/relay index 99.*21 relays/);
  });
});
