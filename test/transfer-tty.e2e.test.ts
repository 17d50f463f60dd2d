import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { relayForSuite } from "./transfer/cli.js";
import { barFrames, podkitInTerminal, renderScreen } from "./transfer/terminal.js";

// `podkit send` and `podkit receive` on real pseudo-terminals (util-linux `script`), through `podkit relay`:
// what a person sees is one progress bar per file with bytes, rate and ETA, redrawn in place.
const PASS = "tty-pass";
const relay = relayForSuite(PASS);

const RATE = String.raw`[\d.]+ (B|KiB|MiB|GiB)/s`;
const FULL_BAR = "█".repeat(40);

describe("progress on a terminal", () => {
  it("shows one bar per file with bytes, rate and ETA, and leaves each at 100 %", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-tty-src-"));
    const out = mkdtempSync(join(tmpdir(), "podkit-tty-out-"));
    // Big enough that the bar is redrawn mid-way on a quiet machine too (a 64 MiB file went by in one frame).
    const big = randomBytes(256 * 1024 * 1024);
    writeFileSync(join(src, "big.bin"), big);
    writeFileSync(join(src, "notes.txt"), randomBytes(100_000).toString("base64"));
    const code = `${4000 + (process.pid % 999)}-tty-bar-${randomBytes(2).toString("hex")}`;

    const sender = podkitInTerminal(["send", "big.bin", "notes.txt", "--code", code, ...relay.flags()], {
      cwd: src,
    });
    await sender.waitForLine((l) => l.includes("Code is:"));
    const receiver = podkitInTerminal(["receive", code, "--yes", "--out", out, ...relay.flags()]);
    const [s, r] = await Promise.all([sender.done, receiver.done]);
    expect([s.code, r.code]).toEqual([0, 0]);
    expect(readFileSync(join(out, "big.bin")).equals(big)).toBe(true);

    for (const [side, raw] of [
      ["sender", s.stdout],
      ["receiver", r.stdout],
    ] as const) {
      const screen = renderScreen(raw);
      const bars = screen.filter((l) => l.includes(" [") && l.includes("] "));
      // Exactly one bar line per file is left on the screen, each at its final state.
      expect(bars, `${side} screen:\n${screen.join("\n")}`).toHaveLength(2);
      expect(bars[0]).toMatch(
        new RegExp(String.raw`^big\.bin \[${FULL_BAR}\] 100% \| 256\.0 MiB/256\.0 MiB \| ${RATE} \| ETA 0s$`),
      );
      expect(bars[1]).toMatch(
        new RegExp(
          String.raw`^notes\.txt \[${FULL_BAR}\] 100% \| 130\.2 KiB/130\.2 KiB \| ${RATE} \| ETA 0s$`,
        ),
      );
      expect(screen).toContain("big.bin: done (256.0 MiB)");
      expect(screen.at(-1)).toMatch(/^transfer complete: 2 file\(s\), 256\.1 MiB in [\d.]+ s$/);
      expect(raw).not.toContain('{"type"'); // no JSON events unless --json

      // While the big file moved, its bar was redrawn in place showing bytes so far, a rate and an ETA.
      const midway = barFrames(raw).filter((f) => f.startsWith("big.bin") && !f.includes("] 100%"));
      const live = midway.filter((f) =>
        new RegExp(String.raw`\] \d{1,2}% \| [\d.]+ (B|KiB|MiB)/256\.0 MiB \| ${RATE} \| ETA \d+s$`).test(f),
      );
      expect(live.length, `${side} bar frames:\n${midway.join("\n")}`).toBeGreaterThan(0);
    }
    // The receiver listed the offer before the bars.
    expect(renderScreen(r.stdout).slice(0, 6).join("\n")).toContain(
      "Receiving 2 file(s), 256.1 MiB in total:",
    );
  }, 60_000);
});
