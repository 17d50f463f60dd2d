import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRows, failures, podkit, runUntilStarted, writeClusterFile } from "./cluster/cli.js";
import { type NetnsCluster, startNetnsCluster } from "./cluster/netns.js";

const MAIN = new URL("../apps/cli/dist/main.js", import.meta.url).pathname;
/** What a Node crash looks like on stderr: it must never reach a user. */
const CRASH = /Unhandled 'error' event|^\s+at .+:\d+:\d+\)?$/m;

/** Run podkit and note when each stdout line arrived (ms after the start). */
function podkitTimed(
  args: string[],
): Promise<{ code: number | null; lines: Array<[number, string]>; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: Array<[number, string]> = [];
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const l of parts) lines.push([Date.now() - t0, l]);
    });
    child.stderr.resume();
    child.once("close", (code) => resolve({ code, lines, ms: Date.now() - t0 }));
  });
}

describe("podkit cluster when nodes break (3 namespace nodes)", () => {
  let c: NetnsCluster;
  let file: string;
  let silent: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3 });
    file = writeClusterFile(c);
    // A port that accepts TCP and never says a word (a hung sshd, or another program on the port).
    silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    expect((await podkit(["cluster", "up", "-f", file])).code).toBe(0);
  });
  afterAll(() => {
    for (const s of held) s.destroy();
    silent?.close();
    c?.down();
  });

  it("a node that accepts TCP but never speaks SSH is that node's FAIL line in plan, up and check; the others still connect", async () => {
    const port = (silent.address() as { port: number }).port;
    const withSilent = join(c.stateDir, "silent.yaml");
    writeFileSync(withSilent, `${readFileSync(file, "utf8")}  - host: 127.0.0.1\n    port: ${port}\n`);
    for (const verb of ["plan", "up", "check"]) {
      const r = await podkit(["cluster", verb, "-f", withSilent]);
      expect(r.stderr, verb).not.toMatch(CRASH);
      expect(r.code, verb).toBe(1);
      const rows = checkRows(r.stdout).filter((x) => x.check === "ssh");
      expect(rows.map((x) => `${x.result} ${x.node}`).sort(), verb).toEqual([
        "FAIL node-3",
        "PASS node-0",
        "PASS node-1",
        "PASS node-2",
      ]);
      expect(rows.find((x) => x.node === "node-3")!.evidence).toBe(
        `cannot reach root@[127.0.0.1]:${port}: the port accepted a TCP connection but sent no SSH greeting within 5 s (not an SSH server, or sshd is stuck)`,
      );
    }
  });

  it("one node down: the others are reported at once and the whole check ends within 6 s", async () => {
    c.exec(2, "ip link set eth0 down");
    try {
      const r = await podkitTimed(["cluster", "check", "-f", file]);
      expect(r.code).toBe(1);
      const at = (re: RegExp) => r.lines.find(([, l]) => re.test(l))?.[0] ?? Number.NaN;
      const down = at(/^FAIL\s+ssh\s+node-2 /);
      // node-0 and node-1 are printed before node-2's 5 s connect timeout runs out, not with it
      expect(at(/^PASS\s+ssh\s+node-0 /)).toBeLessThan(down - 2_000);
      expect(at(/^PASS\s+ssh\s+node-1 /)).toBeLessThan(down - 2_000);
      expect(failures(r.lines.map(([, l]) => l).join("\n")).map((f) => `${f.check} ${f.node}`)).toEqual([
        "ssh node-2",
      ]);
      // The 6 s are podkit's own work: take off what starting the CLI costs on this machine right now.
      const startup = (await podkit(["cluster", "env", "--file", "/nonexistent"])).ms;
      expect(r.ms - startup).toBeLessThan(6_000);
    } finally {
      c.exec(
        2,
        `ip link set eth0 up; ip route replace default via ${c.nodes[2]!.mgmtIp.replace(/\.\d+$/, ".1")} dev eth0 || true`,
      );
    }
  });

  it("run names the node whose connection was lost mid-command (exit 255), not 'exited with undefined'", async () => {
    // kill node-1's SSH session processes: the connection drops as if the node had died
    const { code, stderr: err } = await runUntilStarted(file, 3, () =>
      c.exec(1, "pkill -KILL -f '^sshd: root'"),
    );
    c.exec(1, "pkill -x sleep");
    expect(code).toBe(255);
    expect(err).toMatch(
      new RegExp(
        `\\[podkit\\] lost the SSH connection to node-1 \\(${c.nodes[1]!.mgmtIp.replace(/\./g, "\\.")}\\) mid-command: .+: stopping the other nodes`,
      ),
    );
    expect(err).not.toMatch(/undefined|null/);
    for (const i of [0, 2]) expect(c.exec(i, "pgrep -x sleep || echo none").stdout.trim()).toBe("none");
  });

  it("check reads every file podkit writes: a hand-edited cluster.env and a per-node variable are named", async () => {
    c.exec(1, "sed -i 's/^NUM_NODES=3$/NUM_NODES=4/' /etc/podkit/cluster.env");
    c.exec(2, "sed -i 's/^NODE_RANK=2$/NODE_RANK=5/' /etc/environment");
    c.exec(0, "echo 10.9.9.9 slots=1 >> /etc/podkit/cluster/hostfile");
    const r = await podkit(["cluster", "check", "-f", file]);
    expect(r.code).toBe(1);
    const failed = failures(r.stdout);
    expect(failed.map((f) => `${f.check} ${f.node}`).sort()).toEqual([
      "env node-0",
      "env node-1",
      "env node-2",
    ]);
    const env = (node: string) => failed.find((f) => f.node === node)!.evidence;
    expect(env("node-1")).toBe(
      "/etc/podkit/cluster.env has NUM_NODES=4 (should be 3) (run and torchrun load this file)",
    );
    expect(env("node-2")).toBe(
      'a new SSH session (/etc/environment) has NODE_RANK=5 (should be 2); run "podkit cluster up" again',
    );
    expect(env("node-0")).toBe('/etc/podkit/cluster/hostfile line 4 is "10.9.9.9 slots=1", planned ""');
    const up = await podkit(["cluster", "up", "-f", file]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain("node-1: wrote /etc/podkit/cluster.env\n");
  });

  it("a known_hosts key of a type the host does not offer names both sides", async () => {
    const rsaOnly = join(c.stateDir, "rsa_known_hosts");
    const other = join(c.stateDir, "other_rsa");
    execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", other]);
    const pub = readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(rsaOnly, `${c.nodes[0]!.mgmtIp} ${pub}\n`);
    const r = await podkit([
      "cluster",
      "check",
      "-f",
      writeClusterFile(c, { name: "rsa", knownHosts: rsaOnly }),
    ]);
    expect(r.code).toBe(1);
    const row = failures(r.stdout).find((f) => f.check === "ssh" && f.node === "node-0")!;
    expect(row.evidence).toMatch(
      new RegExp(
        `^${c.nodes[0]!.mgmtIp.replace(/\./g, "\\.")} offers host keys of type .*ssh-ed25519.*, but known_hosts holds only ssh-rsa for it; add one of the offered keys to `,
      ),
    );
  });
});
