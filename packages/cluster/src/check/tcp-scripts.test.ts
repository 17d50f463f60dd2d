import { describe, expect, it } from "vitest";
import { commandLine, shellQuote } from "../ssh/shell-quote.js";
import { parseListenerOutput, parseProbeOutput, peersToProbe } from "./tcp-scripts.js";

describe("peersToProbe", () => {
  it.each([
    [0, 1, []],
    [0, 3, [1, 2]],
    [7, 8, [0, 1, 2, 3, 4, 5, 6]],
    [0, 16, [1, 2, 3]],
    [15, 16, [0, 1, 2]],
  ])("rank %i of %i → %j", (rank, n, want) => expect(peersToProbe(rank, n)).toEqual(want));
});

describe("probe output", () => {
  it("reads listener lines", () => {
    const s = parseListenerOutput(
      "LISTEN 10.65.0.2:0 41233\nBINDFAIL 10.65.0.2:29500 Address already in use\nREADY\n",
    );
    expect(s.ready).toBe(true);
    expect(s.listening.get("10.65.0.2:0")).toBe(41233);
    expect(s.bindFailures.get("10.65.0.2:29500")).toBe("Address already in use");
  });

  it("reads probe lines", () => {
    const r = parseProbeOutput("PROBE node-1 OK 3ms\nPROBE primary FAIL timed out after 3s (blocked)\n");
    expect(Object.fromEntries(r)).toEqual({
      "node-1": "OK 3ms",
      primary: "FAIL timed out after 3s (blocked)",
    });
  });
});

describe("shell quoting", () => {
  it.each([
    ["plain", "plain"],
    ["a b", "'a b'"],
    ["it's", `'it'"'"'s'`],
    ["$HOME", "'$HOME'"],
    ["", "''"],
  ])("%j → %s", (arg, want) => expect(shellQuote(arg)).toBe(want));

  it("takes one argument as a shell snippet and several as argv", () => {
    expect(commandLine(["echo $NODE_RANK && hostname"])).toBe("echo $NODE_RANK && hostname");
    expect(commandLine(["python3", "-c", "print(1)"])).toBe("python3 -c 'print(1)'");
  });
});
