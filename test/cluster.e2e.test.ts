import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkRows,
  failures,
  podkit,
  runUntilStarted,
  torchrunRanks,
  writeClusterFile,
} from "./cluster/cli.js";
import { type NetnsCluster, startNetnsCluster } from "./cluster/netns.js";

const CHECK_JOB = new URL("./testdata/cluster/allreduce_check.py", import.meta.url).pathname;
const SNAPSHOT = "for f in /etc/hosts /etc/environment; do sha256sum $f; done; ls -A /etc/podkit 2>&1; true";

/** What a plain `ssh node cmd` sees (OpenSSH client, host keys checked). */
const ssh = (c: NetnsCluster, i: number, command: string) => c.ssh(i, command).stdout;

describe("podkit cluster on 3 namespace nodes (eth0 management, ens1 cluster network)", () => {
  let c: NetnsCluster;
  let file: string;
  let before: string[];

  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3, fakeGpus: 2 });
    file = writeClusterFile(c);
    before = c.nodes.map((n) => c.exec(n.index, SNAPSHOT).stdout);
  });
  afterAll(() => c?.down());

  it("pre-flight catches the Docker-style /etc/hosts and the missing env before up, in seconds", async () => {
    const r = await podkit(["cluster", "check", "-f", file]);
    expect(r.code).toBe(1);
    const failed = failures(r.stdout);
    expect(failed.map((f) => `${f.check} ${f.node}`).sort()).toEqual([
      "env node-0",
      "env node-1",
      "env node-2",
      "hostname node-0",
      "hostname node-1",
      "hostname node-2",
    ]);
    const host1 = failed.find((f) => f.check === "hostname" && f.node === "node-1")!;
    expect(host1.evidence).toContain(`node-1 resolves to ${c.nodes[1]!.mgmtIp}, not 10.65.0.3 on ens1`);
    expect(r.stderr).toContain("6 check(s) failed");
    expect(r.ms).toBeLessThan(10_000);
  });

  it("plan shows every node's variables, picked from facts (ens1, never eth0)", async () => {
    const r = await podkit(["cluster", "plan", "-f", file, "--json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.primaryAddress).toBe("10.65.0.2");
    expect(plan.numTrainers).toBe(2);
    expect(
      plan.nodes.map((n: { interface: string; address: string }) => `${n.interface} ${n.address}`),
    ).toEqual(["ens1 10.65.0.2", "ens1 10.65.0.3", "ens1 10.65.0.4"]);
    expect(plan.changes[1]).toEqual({
      node: "node-1",
      files: [
        "/etc/environment",
        "/etc/hosts",
        "/etc/podkit/cluster.env",
        "/etc/podkit/cluster/nodes",
        "/etc/podkit/cluster/hostfile",
      ],
      disabledLines: [`/etc/hosts: ${c.nodes[1]!.mgmtIp} node-1`],
    });
    const human = (await podkit(["cluster", "plan", "-f", file])).stdout;
    expect(human).toContain(`  up would comment out /etc/hosts: ${c.nodes[2]!.mgmtIp} node-2\n`);
    expect(human).toContain("  NODE_RANK=2\n");
  });

  it("up injects the env everywhere, fixes /etc/hosts, and every check passes", async () => {
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = checkRows(r.stdout);
    expect(rows.filter((x) => x.result === "FAIL")).toEqual([]);
    expect(new Set(rows.map((x) => x.check))).toEqual(
      new Set([
        "ssh",
        "interface",
        "route",
        "tcp-primary",
        "peers",
        "clock",
        "gpus",
        "versions",
        "hostname",
        "env",
      ]),
    );
    for (const n of c.nodes) {
      // a plain ssh session (pam_env reads /etc/environment) sees the injected values
      const seen = ssh(
        c,
        n.index,
        "echo $NODE_RANK $NODE_ADDR $PRIMARY_ADDR $WORLD_SIZE $GLOO_SOCKET_IFNAME $NUM_TRAINERS",
      );
      expect(seen.trim()).toBe(`${n.index} ${n.clusterIp} 10.65.0.2 6 ens1 2`);
      expect(c.exec(n.index, "getent ahostsv4 $(hostname) | head -1").stdout).toMatch(
        new RegExp(`^${n.clusterIp.replace(/\./g, "\\.")}\\s`),
      );
      expect(c.exec(n.index, "getent ahostsv4 node-2 | head -1").stdout).toMatch(/^10\.65\.0\.4\s/);
      expect(c.exec(n.index, "cat /etc/podkit/cluster/hostfile").stdout).toBe(
        "10.65.0.2 slots=2\n10.65.0.3 slots=2\n10.65.0.4 slots=2\n",
      );
    }
  });

  it("a second up changes nothing", async () => {
    const files = c.nodes.map(
      (n) => c.exec(n.index, "stat -c '%n %Y %s' /etc/hosts /etc/environment /etc/podkit/cluster.env").stdout,
    );
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/node-0: unchanged\nnode-1: unchanged\nnode-2: unchanged/);
    expect(
      c.nodes.map(
        (n) =>
          c.exec(n.index, "stat -c '%n %Y %s' /etc/hosts /etc/environment /etc/podkit/cluster.env").stdout,
      ),
    ).toEqual(files);
  });

  it("podkit cluster env on a node prints that node's variables", async () => {
    const cli = new URL("../apps/cli/dist/main.js", import.meta.url).pathname;
    const out = c.exec(1, `${process.execPath} ${cli} cluster env --json`);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      NODE_RANK: "1",
      NODE_ADDR: "10.65.0.3",
      HOST_NODE_ADDR: "10.65.0.2:29500",
    });
  });

  it("torchrun: a gloo all-reduce on 6 ranks, right on every rank, over ens1 and not eth0", async () => {
    // Count every packet leaving eth0 except the SSH session that drives the test.
    for (const n of c.nodes) {
      c.exec(
        n.index,
        "iptables -N PKCOUNT && iptables -A PKCOUNT -p tcp --sport 22 -j RETURN && iptables -A PKCOUNT -j RETURN && iptables -A OUTPUT -o eth0 -j PKCOUNT",
      );
    }
    const ens1Before = c.nodes.map((n) => c.txBytes(n.index, "ens1"));
    const r = await podkit(["cluster", "torchrun", "-f", file, "--upload", CHECK_JOB], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const ranks = torchrunRanks(r.stdout);
    expect(ranks.map((x) => x.rank).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const x of ranks) {
      expect(x).toMatchObject({
        ok: true,
        world_size: 6,
        allreduce: 21,
        expected: 21,
        master: "10.65.0.2:29500",
        gloo_ifname: "ens1",
      });
      expect(x.hostname).toBe(`node-${x.node}`);
      expect(x.group_rank).toBe(x.node);
    }
    for (const n of c.nodes) {
      expect(c.txBytes(n.index, "ens1") - ens1Before[n.index]!).toBeGreaterThan(4_000_000);
      const counters = c.exec(n.index, "iptables -L PKCOUNT -v -x -n").stdout.trim().split("\n").slice(2);
      const nonSshPackets = Number(counters[1]!.trim().split(/\s+/)[0]);
      expect(nonSshPackets, `node-${n.index} sent non-SSH packets on eth0: ${counters.join(" | ")}`).toBe(0);
      c.exec(n.index, "iptables -D OUTPUT -o eth0 -j PKCOUNT; iptables -F PKCOUNT; iptables -X PKCOUNT");
    }
  });

  it("run streams [node-i] output and stops every node when one fails", async () => {
    const r = await podkit([
      "cluster",
      "run",
      "-f",
      file,
      "--",
      'echo "rank $NODE_RANK of $NUM_NODES"; if [ "$NODE_RANK" = 1 ]; then sleep 1; exit 3; fi; sleep 60',
    ]);
    expect(r.code).toBe(3);
    for (const i of [0, 1, 2]) expect(r.stdout).toContain(`[node-${i}] rank ${i} of 3`);
    expect(r.stderr).toContain("[podkit] node-1 exited with 3: stopping the other nodes");
    expect(r.ms).toBeLessThan(15_000);
    for (const n of c.nodes)
      expect(c.exec(n.index, "pgrep -x sleep || echo none").stdout.trim()).toBe("none");
  });

  it("run has one deadline for all nodes", async () => {
    const r = await podkit(["cluster", "run", "-f", file, "--timeout", "2s", "--", "sleep", "60"]);
    expect(r.code).toBe(124);
    expect(r.stderr).toContain("deadline of 2 s passed");
    expect(r.ms).toBeLessThan(15_000);
  });

  it("a script missing on the nodes stops torchrun and run before launch, with the --upload fix", async () => {
    const t = await podkit(["cluster", "torchrun", "-f", file, "missing_train.py", "--epochs", "3"]);
    expect(t.code).toBe(4);
    expect(t.stderr).toContain(
      `missing_train.py is not on node-0 (${c.nodes[0]!.mgmtIp}), node-1 (${c.nodes[1]!.mgmtIp}), node-2 (${c.nodes[2]!.mgmtIp})`,
    );
    expect(t.stderr).toContain(
      `nothing was started. To copy your local missing_train.py to every node first, run: podkit cluster torchrun -f ${file} --upload missing_train.py`,
    );
    expect(t.stdout + t.stderr).not.toContain("Traceback");
    const r = await podkit([
      "cluster",
      "run",
      "-f",
      file,
      "--",
      "torchrun",
      "--nproc_per_node=1",
      "missing_train.py",
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("missing_train.py is not on node-0");
    expect(r.stdout + r.stderr).not.toContain("Traceback");
  });

  it("Ctrl-C stops the command on every node (exit 130)", async () => {
    const { code } = await runUntilStarted(file, 3, (child) => child.kill("SIGINT"));
    expect(code).toBe(130);
    for (const n of c.nodes)
      expect(c.exec(n.index, "pgrep -x sleep || echo none").stdout.trim()).toBe("none");
  });

  it("trap: a node whose env was edited is caught by the env hash, and up repairs only that node", async () => {
    c.exec(2, "sed -i 's/^NUM_NODES=3$/NUM_NODES=4/' /etc/environment");
    const r = await podkit(["cluster", "check", "-f", file]);
    expect(r.code).toBe(1);
    const failed = failures(r.stdout);
    expect(failed.map((f) => `${f.check} ${f.node}`)).toEqual(["env node-2"]);
    expect(failed[0]!.evidence).toMatch(/env hash \w+ ≠ planned \w+: NUM_NODES=4 \(should be 3\)/);
    const up = await podkit(["cluster", "up", "-f", file]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/node-0: unchanged\nnode-1: unchanged\nnode-2: wrote \/etc\/environment\n/);
  });

  it("trap: a blocked primary port fails in seconds, not after torchrun's 60 s", async () => {
    c.exec(0, "iptables -I INPUT -p tcp --dport 29500 -j DROP");
    try {
      const r = await podkit(["cluster", "check", "-f", file]);
      expect(r.code).toBe(1);
      const failed = failures(r.stdout).filter((f) => f.check === "tcp-primary");
      expect(failed.map((f) => f.node)).toEqual(["node-0", "node-1", "node-2"]);
      expect(failed[1]!.evidence).toMatch(
        /cannot connect to 10\.65\.0\.2:29500: timed out after 3s .*torchrun would hang in rendezvous/,
      );
      expect(r.ms).toBeLessThan(10_000);
      // torchrun is not even started
      const t = await podkit(["cluster", "torchrun", "-f", file, "/tmp/none.py"]);
      expect(t.code).toBe(1);
      expect(t.stderr).toContain("pre-flight failed");
    } finally {
      c.exec(0, "iptables -D INPUT -p tcp --dport 29500 -j DROP");
    }
  });

  it("trap: an unreachable node is reported with its address, in seconds", async () => {
    c.exec(2, "ip link set eth0 down");
    try {
      const r = await podkit(["cluster", "check", "-f", file]);
      expect(r.code).toBe(1);
      const failed = failures(r.stdout);
      expect(failed.map((f) => `${f.check} ${f.node}`)).toEqual(["ssh node-2"]);
      expect(failed[0]!.evidence).toBe(
        `cannot reach root@${c.nodes[2]!.mgmtIp}: no SSH answer within 5 s (machine down, wrong address or port, or a firewall)`,
      );
      // the 5 s SSH timeout plus starting the CLI, on a loaded 2-core machine
      expect(r.ms).toBeLessThan(12_000);
    } finally {
      c.exec(
        2,
        `ip link set eth0 up; ip route replace default via ${c.nodes[2]!.mgmtIp.replace(/\.\d+$/, ".1")} dev eth0 || true`,
      );
    }
  });

  it("host keys are verified: unknown hosts need --accept-new-host-keys, changed keys are refused", async () => {
    const empty = join(c.stateDir, "empty_known_hosts");
    writeFileSync(empty, "");
    const strict = writeClusterFile(c, { name: "strict", knownHosts: empty });
    const refused = await podkit(["cluster", "plan", "-f", strict]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /unknown host key for 172\.31\.\d+\.2 \(ssh-ed25519 SHA256:.*--accept-new-host-keys/,
    );
    const tofu = await podkit(["cluster", "plan", "-f", strict, "--accept-new-host-keys"]);
    expect(tofu.code).toBe(0);
    expect(readFileSync(empty, "utf8").trim().split("\n")).toHaveLength(3);
    // now pinned: a different key for node-0 must be refused
    const other = readFileSync(c.knownHosts, "utf8").split("\n")[1]!.split(" ").slice(1).join(" ");
    writeFileSync(empty, `${c.nodes[0]!.mgmtIp} ${other}\n`);
    const changed = await podkit(["cluster", "plan", "-f", strict, "--accept-new-host-keys"]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain("HOST KEY CHANGED");
  });

  it("a changed cluster file updates every node cleanly", async () => {
    const moved = writeClusterFile(c, { name: "moved", port: 29600 });
    const r = await podkit(["cluster", "up", "-f", moved]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/node-0: wrote \/etc\/environment, \/etc\/podkit\/cluster\.env\n/);
    for (const n of c.nodes) {
      expect(ssh(c, n.index, "echo $MASTER_PORT $HOST_NODE_ADDR").trim()).toBe("29600 10.65.0.2:29600");
      expect(c.exec(n.index, "grep -c PORT= /etc/environment").stdout.trim()).toBe("2");
    }
  });

  it("down leaves every node as it was, and a second down has nothing to undo", async () => {
    const r = await podkit(["cluster", "down", "-f", file]);
    expect(r.code).toBe(0);
    // Every node's line names each thing undone, the uploaded scripts and podkit's folder included.
    for (const i of [0, 1, 2]) {
      const line = r.stdout.split("\n").find((l) => l.startsWith(`node-${i} `)) ?? "";
      for (const undone of [
        "removed podkit's lines from /etc/environment",
        "removed /etc/podkit/cluster.env",
        "removed /etc/podkit/cluster/nodes",
        "removed /etc/podkit/cluster/hostfile",
        "removed /tmp/podkit-demo",
        "removed /etc/podkit/cluster",
      ]) {
        expect(line).toContain(undone);
      }
    }
    expect(c.nodes.map((n) => c.exec(n.index, SNAPSHOT).stdout)).toEqual(before);
    expect(ssh(c, 1, "echo NODE_RANK=$NODE_RANK").trim()).toBe("NODE_RANK=");
    const again = await podkit(["cluster", "down", "-f", file]);
    expect(again.stdout.match(/nothing to undo/g)).toHaveLength(3);
  });
});

describe("a node without the cluster NIC", () => {
  let c: NetnsCluster;
  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3, withoutEns1: [2] });
  });
  afterAll(() => c?.down());

  it("is named by the pre-flight and up writes nothing anywhere", async () => {
    const file = writeClusterFile(c);
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(r.code).toBe(1);
    const failed = failures(r.stdout);
    expect(failed.map((f) => `${f.check} ${f.node}`)).toEqual(["interface node-2"]);
    expect(failed[0]!.evidence).toMatch(
      /no interface on the cluster network 10\.65\.0\.0\/24 \(the other nodes use ens1; found: eth0 172\.31\.\d+\.4\/24\)/,
    );
    expect(r.stderr).toContain("no node was changed");
    for (const n of c.nodes)
      expect(c.exec(n.index, "ls /etc/podkit 2>&1 || true").stdout).toMatch(/No such file/);
    const named = await podkit([
      "cluster",
      "check",
      "-f",
      writeClusterFile(c, { name: "named", interface: "ens1" }),
    ]);
    expect(failures(named.stdout)[0]!.evidence).toMatch(/interface ens1 is missing/);
  });
});
