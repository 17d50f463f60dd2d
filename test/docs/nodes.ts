/**
 * The machines the cluster guide talks to: network namespaces `pkdc-node-<i>`, each booted by the
 * cluster suites' node-init.sh (copy-on-write root, own hostname and PID namespace, a real sshd),
 * with one NIC `ens1` at 10.70.0.<i+2>/24 on the bridge `pkdc-br`, which holds 10.70.0.1 in the
 * machine's own network namespace, where that guide's session runs. Needs root. `down()` removes
 * exactly what `startGuideNodes` made; one left by a run that died is removed at the next start.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bootNode, NODE_SSHD_CONFIG } from "../cluster/netns.js";

const CLI = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
const BRIDGE = "pkdc-br";
const ns = (i: number) => `pkdc-node-${i}`;

export interface GuideNodes {
  addresses: string[];
  /** Files for the guide's working directory: the SSH key the nodes accept, and their host keys. */
  files: Record<string, string>;
  down(): void;
}

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" });

function removeAll(): void {
  const names = run("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith("pkdc-node-"));
  for (const n of names) {
    for (const pid of spawnSync("ip", ["netns", "pids", n]).stdout.toString().split(/\s+/).filter(Boolean))
      quiet("kill", ["-9", pid]);
  }
  if (names.length > 0) spawnSync("sleep", ["0.3"]);
  for (const n of names) quiet("ip", ["netns", "del", n]);
  for (const l of run("ip", ["-o", "link", "show"]).split("\n")) {
    const name = /^\d+:\s+([^:@]+)/.exec(l)?.[1];
    if (name?.startsWith("pkdc")) quiet("ip", ["link", "del", name]);
  }
}

function waitSsh(host: string, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host, port: 22 });
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd on ${host} did not come up`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startGuideNodes(count: number): Promise<GuideNodes> {
  removeAll();
  const dir = mkdtempSync(join(tmpdir(), "pkdc-"));
  const launchers: number[] = [];
  const down = () => {
    for (const pid of launchers) quiet("kill", ["-9", String(pid)]);
    removeAll();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const key = join(dir, "id_ed25519");
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "podkit-docs", "-f", key]);
    run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    run("ip", ["addr", "add", "10.70.0.1/24", "dev", BRIDGE]);
    run("ip", ["link", "set", BRIDGE, "up"]);
    const addresses: string[] = [];
    const knownHosts: string[] = [];
    for (let i = 0; i < count; i++) {
      const address = `10.70.0.${i + 2}`;
      addresses.push(address);
      run("ip", ["netns", "add", ns(i)]);
      run("ip", ["-n", ns(i), "link", "set", "lo", "up"]);
      run("ip", ["link", "add", `pkdc${i}`, "type", "veth", "peer", "name", "ens1", "netns", ns(i)]);
      run("ip", ["link", "set", `pkdc${i}`, "master", BRIDGE]);
      run("ip", ["link", "set", `pkdc${i}`, "up"]);
      run("ip", ["-n", ns(i), "addr", "add", `${address}/24`, "dev", "ens1"]);
      run("ip", ["-n", ns(i), "link", "set", "ens1", "up"]);
      const nodeDir = join(dir, `node-${i}`);
      const inject = join(nodeDir, "inject");
      mkdirSync(join(inject, "etc/ssh"), { recursive: true });
      mkdirSync(join(inject, "root/.ssh"), { recursive: true });
      writeFileSync(join(inject, "etc/hostname"), `node-${i}\n`);
      writeFileSync(join(inject, "etc/hosts"), `127.0.0.1 localhost\n${address} node-${i}\n`);
      const hostKey = join(inject, "etc/ssh/pk_host_ed25519_key");
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
      knownHosts.push(
        `${address} ${readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}`,
      );
      writeFileSync(join(inject, "etc/ssh/pk_sshd_config"), NODE_SSHD_CONFIG);
      writeFileSync(join(inject, "root/.ssh/authorized_keys"), readFileSync(`${key}.pub`), { mode: 0o600 });
      // podkit installed on the node, as the guide assumes for `podkit cluster env` there.
      mkdirSync(join(inject, "usr/local/bin"), { recursive: true });
      writeFileSync(
        join(inject, "usr/local/bin/podkit"),
        `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`,
        {
          mode: 0o755,
        },
      );
      launchers.push(bootNode(ns(i), i, nodeDir, 0, false));
    }
    const deadline = Date.now() + 20_000;
    await Promise.all(
      addresses.map((a, i) =>
        waitSsh(a, deadline).catch((err: Error) => {
          throw new Error(`${err.message}: ${readFileSync(join(dir, `node-${i}/console.log`), "utf8")}`);
        }),
      ),
    );
    return {
      addresses,
      files: { id_ed25519: readFileSync(key, "utf8"), known_hosts: `${knownHosts.join("\n")}\n` },
      down,
    };
  } catch (err) {
    down();
    throw err;
  }
}
