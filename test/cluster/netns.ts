/**
 * A cluster of network namespaces on this machine, the recipe of shared/design/netns-test-cluster.md:
 * per node an isolated `eth0` management NIC (172.31.<x>.0/24, node↔node blocked by bridge port
 * isolation), an `ens1` cluster NIC on a shared bridge (10.65.0.0/24), its own hostname, PID
 * namespace, copy-on-write root and sshd on port 22. Needs root. Everything it creates carries a
 * random `pk<hex>` prefix, and `down()` removes exactly that.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";

const INIT_SCRIPT = new URL("./node-init.sh", import.meta.url).pathname;
/** The checkout, made visible inside every node even where it lies under a node-private /tmp or /root. */
const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const STATE_ROOT = "/run/podkit-netns";

/** sshd's configuration on every namespace node: key-only root login, room for many parallel sessions. */
export const NODE_SSHD_CONFIG = [
  "Port 22",
  "ListenAddress 0.0.0.0",
  "HostKey /etc/ssh/pk_host_ed25519_key",
  "PidFile /run/sshd.pid",
  "PermitRootLogin prohibit-password",
  "PubkeyAuthentication yes",
  "AuthorizedKeysFile .ssh/authorized_keys",
  "PasswordAuthentication no",
  "KbdInteractiveAuthentication no",
  "UsePAM yes",
  "PrintMotd no",
  "MaxStartups 100:30:200",
  "MaxSessions 64",
  "Subsystem sftp /usr/lib/openssh/sftp-server",
  "",
].join("\n");

/**
 * Boots node `index` (node-init.sh) inside network namespace `ns`, with its own mounts, hostname and
 * PID namespace; its console goes to `nodeDir`/console.log. Returns the launcher's pid.
 */
export function bootNode(ns: string, index: number, nodeDir: string, gpus: number, rdma: boolean): number {
  const logFd = openSync(join(nodeDir, "console.log"), "w");
  // detached: the launcher gets its own session, like setsid(1), without setsid's extra fork.
  const launcher = spawn(
    "nsenter",
    [
      `--net=/run/netns/${ns}`,
      "--",
      "unshare",
      "--mount",
      "--propagation",
      "slave",
      "--uts",
      "--pid",
      "--fork",
    ].concat([
      "--",
      "/bin/sh",
      INIT_SCRIPT,
      String(index),
      nodeDir,
      String(gpus),
      REPO_ROOT,
      rdma ? "1" : "",
    ]),
    { detached: true, stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  launcher.unref();
  return launcher.pid!;
}

export interface NetnsNode {
  index: number;
  hostname: string;
  netns: string;
  mgmtIp: string;
  clusterIp: string;
  hostKeyFingerprint: string;
  initPid: number;
}

export interface NetnsCluster {
  prefix: string;
  stateDir: string;
  privateKey: string;
  knownHosts: string;
  nodes: NetnsNode[];
  /** Run a shell command inside node i (no SSH), as root with a clean env. */
  exec(i: number, command: string): { code: number; stdout: string; stderr: string };
  /** Run a command on node i with the OpenSSH client (host key checked), as `ssh node cmd` would. */
  ssh(i: number, command: string): { code: number; stdout: string; stderr: string };
  /** Bytes sent on an interface of node i. */
  txBytes(i: number, iface: string): number;
  down(): void;
}

export interface NetnsOptions {
  nodes: number;
  fakeGpus?: number;
  /** Nodes (by index) built without ens1. */
  withoutEns1?: number[];
  /** Give every node an empty, writable /sys/class/infiniband for fake RDMA trees (see rdma-tree.ts). */
  rdma?: boolean;
}

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const tryRun = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" });

function pickMgmtOctet(): number {
  const routes = run("ip", ["-4", "route"]);
  for (;;) {
    const x = 64 + Math.floor(Math.random() * 190);
    if (!routes.includes(`172.31.${x}.`)) return x;
  }
}

function waitTcp(host: string, port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd on ${host}:${port} did not come up`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function childSshdPid(launcher: number, deadline: number): number {
  for (;;) {
    try {
      const kids = readFileSync(`/proc/${launcher}/task/${launcher}/children`, "utf8").trim().split(/\s+/);
      for (const k of kids) {
        if (k && readFileSync(`/proc/${k}/comm`, "utf8").trim() === "sshd") return Number(k);
      }
    } catch {
      throw new Error(`node launcher ${launcher} exited early`);
    }
    if (Date.now() > deadline) throw new Error("node init did not reach sshd in 15 s");
    spawnSync("sleep", ["0.05"]);
  }
}

/** Remove clusters left behind by test processes that died without tearing down. */
export function reapStaleClusters(): void {
  if (!existsSync(STATE_ROOT)) return;
  for (const prefix of run("ls", [STATE_ROOT])
    .split("\n")
    .filter((p) => /^pk[0-9a-f]{4}$/.test(p))) {
    const ownerFile = join(STATE_ROOT, prefix, "owner.pid");
    const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, "utf8")) : 0;
    if (owner && existsSync(`/proc/${owner}`)) continue;
    teardown(prefix);
  }
}

function teardown(prefix: string): void {
  const dir = join(STATE_ROOT, prefix);
  const pidsFile = join(dir, "pids");
  if (existsSync(pidsFile)) {
    for (const pid of readFileSync(pidsFile, "utf8").split(/\s+/).filter(Boolean))
      tryRun("kill", ["-9", pid]);
  }
  const namespaces = run("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(`${prefix}-node-`));
  for (const ns of namespaces) {
    for (const pid of spawnSync("ip", ["netns", "pids", ns]).stdout.toString().split(/\s+/).filter(Boolean)) {
      tryRun("kill", ["-9", pid]);
    }
  }
  if (namespaces.length > 0) spawnSync("sleep", ["0.3"]);
  for (const ns of namespaces) tryRun("ip", ["netns", "del", ns]);
  const links = run("ip", ["-o", "link", "show"])
    .split("\n")
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n?.startsWith(prefix) === true);
  for (const l of links) tryRun("ip", ["link", "del", l]);
  rmSync(dir, { recursive: true, force: true });
}

export async function startNetnsCluster(opts: NetnsOptions): Promise<NetnsCluster> {
  reapStaleClusters();
  const prefix = `pk${randomBytes(2).toString("hex")}`;
  const dir = join(STATE_ROOT, prefix);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  // Teardown is synchronous, so it also runs when the test process exits without calling down().
  const onExit = () => teardown(prefix);
  process.once("exit", onExit);
  const pids: number[] = [];
  const x = pickMgmtOctet();
  const gpus = opts.fakeGpus ?? 0;
  try {
    const privateKey = join(dir, "id_ed25519");
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "podkit-test", "-f", privateKey]);
    const pub = readFileSync(`${privateKey}.pub`, "utf8");
    const mgmt = `${prefix}-mgmt`;
    const ens = `${prefix}-ens1`;
    run("ip", ["link", "add", mgmt, "type", "bridge"]);
    run("ip", ["addr", "add", `172.31.${x}.1/24`, "dev", mgmt]);
    run("ip", ["link", "set", mgmt, "up"]);
    run("ip", ["link", "add", ens, "type", "bridge"]);
    run("ip", ["link", "set", ens, "up"]);
    const forwarding = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() !== "0";
    const nodes: NetnsNode[] = [];
    const launches: Array<Promise<void>> = [];
    for (let i = 0; i < opts.nodes; i++) {
      const ns = `${prefix}-node-${i}`;
      const mgmtIp = `172.31.${x}.${i + 2}`;
      const clusterIp = `10.65.0.${i + 2}`;
      run("ip", ["netns", "add", ns]);
      run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      run("ip", ["link", "add", `${prefix}n${i}m`, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      run("ip", ["link", "set", `${prefix}n${i}m`, "master", mgmt]);
      run("bridge", ["link", "set", "dev", `${prefix}n${i}m`, "isolated", "on"]);
      run("ip", ["link", "set", `${prefix}n${i}m`, "up"]);
      run("ip", ["-n", ns, "addr", "add", `${mgmtIp}/24`, "dev", "eth0"]);
      run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      // Like a real pod, the default route leaves via eth0, but only where the host drops forwarded packets.
      if (!forwarding)
        run("ip", ["-n", ns, "route", "add", "default", "via", `172.31.${x}.1`, "dev", "eth0"]);
      if (!opts.withoutEns1?.includes(i)) {
        run("ip", ["link", "add", `${prefix}n${i}e1`, "type", "veth", "peer", "name", "ens1", "netns", ns]);
        run("ip", ["link", "set", `${prefix}n${i}e1`, "master", ens]);
        run("ip", ["link", "set", `${prefix}n${i}e1`, "up"]);
        run("ip", ["-n", ns, "addr", "add", `${clusterIp}/24`, "dev", "ens1"]);
        run("ip", ["-n", ns, "link", "set", "ens1", "up"]);
      }
      const nodeDir = join(dir, `node-${i}`);
      const inject = join(nodeDir, "inject");
      mkdirSync(join(inject, "etc/ssh"), { recursive: true });
      mkdirSync(join(inject, "root/.ssh"), { recursive: true });
      writeFileSync(join(inject, "etc/hostname"), `node-${i}\n`);
      // Docker-style hosts: the hostname maps only to this node's own eth0 address (the classic trap).
      writeFileSync(
        join(inject, "etc/hosts"),
        `127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n${mgmtIp} node-${i}\n`,
      );
      const hostKey = join(inject, "etc/ssh/pk_host_ed25519_key");
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
      chmodSync(hostKey, 0o600);
      writeFileSync(join(inject, "etc/ssh/pk_sshd_config"), NODE_SSHD_CONFIG);
      writeFileSync(join(inject, "root/.ssh/authorized_keys"), pub, { mode: 0o600 });
      const fingerprint = run("ssh-keygen", ["-lf", `${hostKey}.pub`]).split(" ")[1]!;
      const launcherPid = bootNode(ns, i, nodeDir, gpus, opts.rdma ?? false);
      const log = join(nodeDir, "console.log");
      pids.push(launcherPid);
      writeFileSync(join(dir, "pids"), pids.join(" "));
      const node: NetnsNode = {
        index: i,
        hostname: `node-${i}`,
        netns: ns,
        mgmtIp,
        clusterIp,
        hostKeyFingerprint: fingerprint,
        initPid: 0,
      };
      nodes.push(node);
      launches.push(
        (async () => {
          const deadline = Date.now() + 15_000;
          node.initPid = childSshdPid(launcherPid, deadline);
          pids.push(node.initPid);
          writeFileSync(join(dir, "pids"), pids.join(" "));
          await waitTcp(mgmtIp, 22, deadline).catch((err) => {
            throw new Error(
              `${(err as Error).message}; console: ${existsSync(log) ? readFileSync(log, "utf8") : "-"}`,
            );
          });
        })(),
      );
    }
    await Promise.all(launches);
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(
      knownHosts,
      nodes
        .map(
          (n) =>
            `${n.mgmtIp} ${readFileSync(
              join(dir, `node-${n.index}/inject/etc/ssh/pk_host_ed25519_key.pub`),
              "utf8",
            )
              .split(" ")
              .slice(0, 2)
              .join(" ")}\n`,
        )
        .join(""),
    );
    const exec = (i: number, command: string) => {
      const r = spawnSync(
        "nsenter",
        [
          "-t",
          String(nodes[i]!.initPid),
          "-m",
          "-u",
          "-n",
          "-i",
          "-p",
          "-r",
          "-w",
          "--",
          "/usr/bin/env",
          "-i",
          "HOME=/root",
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "LANG=C.UTF-8",
          "/bin/bash",
          "-c",
          command,
        ],
        { encoding: "utf8" },
      );
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const ssh = (i: number, command: string) => {
      const r = spawnSync(
        "ssh",
        [
          "-i",
          privateKey,
          "-o",
          `UserKnownHostsFile=${knownHosts}`,
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "BatchMode=yes",
          `root@${nodes[i]!.mgmtIp}`,
          command,
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    return {
      prefix,
      stateDir: dir,
      ssh,
      privateKey,
      knownHosts,
      nodes,
      exec,
      txBytes: (i, iface) => Number(exec(i, `cat /sys/class/net/${iface}/statistics/tx_bytes`).stdout.trim()),
      down: () => {
        process.off("exit", onExit);
        teardown(prefix);
      },
    };
  } catch (err) {
    writeFileSync(join(dir, "pids"), pids.join(" "));
    process.off("exit", onExit);
    teardown(prefix);
    throw err;
  }
}
