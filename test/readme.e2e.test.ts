import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isListening, waitFor } from "./up/processes.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The README's N-th sh block, read the same way CI reads the test command. */
function readmeCommand(n: number): string {
  return execFileSync(process.execPath, [join(REPO, "scripts", "readme-command.mjs"), String(n)], {
    encoding: "utf8",
  }).trim();
}

describe("the README's first command on a fresh clone", () => {
  const dir = mkdtempSync(join(tmpdir(), "podkit-fresh-clone-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("installs, builds and starts the local stack; Ctrl-C stops it", async () => {
    const clone = join(dir, "podkit");
    execFileSync("git", ["clone", "--quiet", REPO, clone]);
    const command = readmeCommand(1);
    expect(command).toMatch(/pnpm install/);
    // Its own process group, so Ctrl-C reaches pnpm, turbo and podkit alike, as in a terminal.
    const child = spawn("bash", ["-c", command], {
      cwd: clone,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitFor("Podkit is up", () => (out.includes("Podkit is up") ? true : undefined), 420_000);
    } catch (err) {
      process.kill(-child.pid!, "SIGKILL");
      throw new Error(`${String(err)}\n${out.slice(-3000)}`);
    }
    expect(out).toMatch(/Dashboard\s+http:\/\/127\.0\.0\.1:8080\//);
    expect(out).toMatch(/aws s3 ls s3:\/\/demo --endpoint-url http:\/\/127\.0\.0\.1:9000/);
    expect(await isListening("127.0.0.1", 8080)).toBe(true);
    process.kill(-child.pid!, "SIGINT");
    await exited;
    expect(await isListening("127.0.0.1", 8080)).toBe(false);
    expect(await isListening("127.0.0.1", 9000)).toBe(false);
  }, 600_000);
});
