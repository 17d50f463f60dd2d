import { describe, expect, it } from "vitest";
import { ipsAnswer, parseIpsAnswer } from "./local.js";

describe("the ips? exchange of croc's local mode", () => {
  it("answers croc's [port, ip…] list of strings, or null with nothing to offer", () => {
    expect(ipsAnswer(9009, ["10.66.0.2", "192.168.1.4"]).toString()).toBe(
      '["9009","10.66.0.2","192.168.1.4"]',
    );
    expect(ipsAnswer(null, ["10.66.0.2"]).toString()).toBe("null");
    expect(ipsAnswer(9009, []).toString()).toBe("null");
  });

  it("reads a sender's answer, and treats anything else as no direct path", () => {
    expect(parseIpsAnswer(Buffer.from('["9009","10.66.0.2"]'))).toEqual({ port: 9009, ips: ["10.66.0.2"] });
    for (const bad of [
      "null",
      "[]",
      '["9009"]',
      '["x","10.0.0.1"]',
      '["70000","10.0.0.1"]',
      "{",
      '[9009,"1.2.3.4"]',
    ])
      expect(parseIpsAnswer(Buffer.from(bad))).toBeNull();
    // Host names or anything with other characters are dropped, not dialled.
    expect(parseIpsAnswer(Buffer.from('["9009","evil.example","10.0.0.1"]'))?.ips).toEqual(["10.0.0.1"]);
  });
});
