import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNamespace, findPeers, type Proc, podkitArgv, run, runpodctlRelays } from "./transfer/peers.js";
import { type Entry, sha256File, snapshot, writeRandomFile } from "./transfer/tree.js";

// `podkit send` / `receive` / `relay` against the real croc 9.6.15, croc 10.7.0 and runpodctl programs,
// driven as users run them. Everything runs inside one network namespace that has only loopback.
// Run with `pnpm test:interop` (needs root for the namespace).
const peers = findPeers();
const PASS = "interop-pass";
const ns = createNamespace(`pkxfer-io-${process.pid}`);
const CROC_PORTS = [9009, 9010, 9011, 9012, 9013];
const CROC_RELAY = "[::1]:9009";
let podkitRelay: { address: string; ports: number[]; proc: Proc };
let crocRelay: Proc;

const tmp = (name: string): string => mkdtempSync(join(tmpdir(), `podkit-io-${name}-`));
let seq = 0;
/** A croc-looking code whose first bytes (generation A's 3-byte room) differ from the last one's. */
const newCode = (suffix = ""): string =>
  `${String(100 + ((seq++ * 37 + process.pid) % 800)).padStart(3, "0")}${seq % 9}-${randomBytes(3).toString("hex")}-interop-code${suffix}`;

async function waitForPort(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const probe = run(ns.name, ["bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`]);
    if ((await probe.done).code === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${host}:${port} in ${ns.name}`);
}

beforeAll(async () => {
  crocRelay = run(ns.name, [
    peers.crocV10,
    "--pass",
    PASS,
    "relay",
    "--host",
    "::1",
    "--ports",
    CROC_PORTS.join(","),
  ]);
  const proc = run(
    ns.name,
    podkitArgv(["relay", "--host", "127.0.0.1", "--ports", "0,0,0,0,0", "--pass", PASS, "--json"]),
  );
  await proc.waitFor((o) => o.includes("{"), 30_000);
  const { address, ports } = JSON.parse(proc.stdout.split("\n")[0] as string) as {
    address: string;
    ports: number[];
  };
  podkitRelay = { address, ports, proc };
  await waitForPort("::1", 9009);
});

afterAll(async () => {
  crocRelay?.kill("SIGTERM");
  podkitRelay?.proc.kill("SIGTERM");
  await Promise.all([crocRelay?.done, podkitRelay?.proc.done]);
  ns.remove();
});

type PeerName = "croc-v9" | "croc-v10" | "runpodctl";
type RelayName = "croc relay" | "podkit relay";
const GENERATION: Record<PeerName, "a" | "b"> = { "croc-v9": "a", "croc-v10": "b", runpodctl: "a" };

function relayOf(name: RelayName): { address: string; ports: number[] } {
  return name === "croc relay" ? { address: CROC_RELAY, ports: CROC_PORTS } : podkitRelay;
}

/**
 * What a test sends: a folder with nested and empty sub-folders, unicode and space names and a
 * zero-byte file, and a plain file beside it.
 */
function makeTree(): { root: string; folder: string; file: string } {
  const root = tmp("src");
  const folder = join(root, "data set");
  mkdirSync(join(folder, "nested/deeper"), { recursive: true });
  mkdirSync(join(folder, "empty folder"), { recursive: true });
  mkdirSync(join(folder, "nested/also empty"), { recursive: true });
  writeFileSync(join(folder, "zero bytes.bin"), "");
  writeFileSync(join(folder, "nested/deeper/weights.bin"), randomBytes(300_000));
  writeFileSync(join(folder, "ünïcødé name 文件.txt"), "unicode ✓\n".repeat(3000));
  const file = join(root, "plain file.bin");
  writeFileSync(file, randomBytes(70_000));
  return { root, folder, file };
}

/** The snapshot without empty folders: what runpodctl's zip mode delivers. */
function withoutEmptyFolders(tree: Record<string, Entry>): Record<string, Entry> {
  const keep = Object.entries(tree).filter(
    ([path, e]) =>
      e.kind !== "dir" || Object.keys(tree).some((p) => p.startsWith(`${path}/`) && tree[p]?.kind === "file"),
  );
  return Object.fromEntries(keep);
}

const crocEnv = (code: string): Record<string, string> => ({ CROC_SECRET: code });

/** The peer's command line to send `paths` with `code` through `relay`. */
function peerSend(peer: PeerName, relay: RelayName, code: string, paths: string[], cwd: string): Proc {
  const { address, ports } = relayOf(relay);
  if (peer === "croc-v10")
    return run(ns.name, [peers.crocV10, "--relay", address, "--pass", PASS, "send", "--no-local", ...paths], {
      cwd,
      env: crocEnv(code),
    });
  if (peer === "croc-v9")
    return run(
      ns.name,
      [peers.crocV9, "--relay", address, "--pass", PASS, "send", "--no-local", "--code", code, ...paths],
      { cwd },
    );
  // runpodctl appends the relay index (0, the only relay in its list) to the code it is given.
  return run(ns.name, [peers.runpodctl, "send", ...paths, "--code", code.replace(/-0$/, "")], {
    cwd,
    env: { RPC_RELAYS: runpodctlRelays(address, PASS, ports) },
  });
}

function peerReceive(
  peer: PeerName,
  relay: RelayName,
  code: string,
  out: string,
  options: { yes?: boolean; stdin?: string; pass?: string } = {},
): Proc {
  const { address, ports } = relayOf(relay);
  const pass = options.pass ?? PASS;
  const yes = options.yes === false ? [] : ["--yes"];
  if (peer === "croc-v10")
    return run(
      ns.name,
      [peers.crocV10, "--relay", address, "--pass", pass, ...yes, "--overwrite", "--out", out],
      {
        env: crocEnv(code),
        stdin: options.stdin,
      },
    );
  if (peer === "croc-v9")
    return run(
      ns.name,
      [peers.crocV9, "--relay", address, "--pass", pass, ...yes, "--overwrite", "--out", out, code],
      {
        stdin: options.stdin,
      },
    );
  return run(ns.name, [peers.runpodctl, "receive", code], {
    cwd: out,
    env: { RPC_RELAYS: runpodctlRelays(address, pass, ports) },
    stdin: options.stdin,
  });
}

const podkitFlags = (relay: RelayName, pass = PASS): string[] => [
  "--relay",
  relayOf(relay).address,
  "--relay-pass",
  pass,
];

/** The code every peer understands: runpodctl's codes end in the relay's index. */
const codeFor = (peer: PeerName): string => newCode(peer === "runpodctl" ? "-0" : "");

const PEERS: PeerName[] = ["croc-v9", "croc-v10", "runpodctl"];
const RELAYS: RelayName[] = ["croc relay", "podkit relay"];

describe.each(PEERS)("podkit and %s", (peer) => {
  for (const relay of RELAYS) {
    for (const protocol of ["auto", GENERATION[peer]]) {
      it(`podkit send → ${peer} receive through the ${relay} (--protocol ${protocol}), receiver started as the code appears`, async () => {
        const { root, folder, file } = makeTree();
        const out = tmp("out");
        const code = codeFor(peer);
        const sender = run(
          ns.name,
          podkitArgv(["send", folder, file, "--code", code, "--protocol", protocol, ...podkitFlags(relay)]),
        );
        await sender.waitFor((o) => o.includes(`Code is: ${code}`));
        const receiver = peerReceive(peer, relay, code, out);
        const [s, r] = await Promise.all([sender.done, receiver.done]);
        expect([s.code, r.code], `${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
        expect(snapshot(out)).toEqual(snapshot(root));
        expect(s.stderr).toContain(`protocol generation ${GENERATION[peer].toUpperCase()}`);
      });

      it(`${peer} send → podkit receive through the ${relay} (--protocol ${protocol})`, async () => {
        const { root, folder, file } = makeTree();
        const out = tmp("out");
        const code = codeFor(peer);
        // runpodctl sends one path and zips folders (empty folders are lost, as between two runpodctls).
        const paths =
          peer === "runpodctl" ? [protocol === "auto" ? "data set" : "plain file.bin"] : [folder, file];
        const sender = peerSend(peer, relay, code, paths, root);
        await sender.waitFor((o) => o.includes(code));
        const receiver = run(
          ns.name,
          podkitArgv(["receive", code, "--yes", "--out", out, "--protocol", protocol, ...podkitFlags(relay)]),
        );
        const [s, r] = await Promise.all([sender.done, receiver.done]);
        expect([s.code, r.code], `${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
        const want = snapshot(root);
        if (peer !== "runpodctl") expect(snapshot(out)).toEqual(want);
        else if (protocol === "auto")
          expect(snapshot(out)).toEqual(
            withoutEmptyFolders(
              Object.fromEntries(Object.entries(want).filter(([p]) => p.startsWith("data set"))),
            ),
          );
        else expect(snapshot(out)).toEqual({ "plain file.bin": want["plain file.bin"] });
        expect(r.stderr).toContain(`protocol generation ${GENERATION[peer].toUpperCase()}`);
      });
    }
  }

  it(`${peer} receive started 2 s after podkit send starts`, async () => {
    const { file } = makeTree();
    const out = tmp("out");
    const code = codeFor(peer);
    const sender = run(ns.name, podkitArgv(["send", file, "--code", code, ...podkitFlags("croc relay")]));
    await new Promise((r) => setTimeout(r, 2000));
    const receiver = peerReceive(peer, "croc relay", code, out);
    const [s, r] = await Promise.all([sender.done, receiver.done]);
    expect([s.code, r.code], `${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
    expect(readdirSync(out)).toEqual(["plain file.bin"]);
  });

  it(`wrong code: podkit send and ${peer} receive both fail cleanly, nothing written`, async () => {
    const { file } = makeTree();
    const out = tmp("out");
    const code = codeFor(peer);
    // Same room (first four characters), different password.
    const wrong = `${code.slice(0, 5)}not-the-same${peer === "runpodctl" ? "-0" : ""}`;
    const sender = run(ns.name, podkitArgv(["send", file, "--code", code, ...podkitFlags("podkit relay")]));
    await sender.waitFor((o) => o.includes(`Code is: ${code}`));
    const receiver = peerReceive(peer, "podkit relay", wrong, out);
    const r = await receiver.done;
    expect(r.code).not.toBe(0);
    const s = await sender.done;
    expect(s.code, s.stderr).toBe(5);
    expect(s.stderr).toMatch(/wrong code phrase/);
    expect(readdirSync(out)).toEqual([]);
  });

  it(`wrong code: ${peer} send and podkit receive both fail cleanly, nothing written`, async () => {
    const { root } = makeTree();
    const out = tmp("out");
    const code = codeFor(peer);
    const wrong = `${code.slice(0, 5)}not-the-same${peer === "runpodctl" ? "-0" : ""}`;
    const sender = peerSend(peer, "croc relay", code, ["plain file.bin"], root);
    await sender.waitFor((o) => o.includes(code));
    const receiver = run(
      ns.name,
      podkitArgv([
        "receive",
        wrong,
        "--yes",
        "--out",
        out,
        "--protocol",
        GENERATION[peer],
        ...podkitFlags("croc relay"),
      ]),
    );
    const r = await receiver.done;
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/wrong code phrase/);
    const s = await Promise.race([
      sender.done,
      new Promise<null>((ok) => setTimeout(() => ok(null), 20_000)),
    ]);
    sender.kill();
    // The croc senders notice the failed PAKE and exit non-zero; runpodctl prints the failure but
    // exits 0 (its own behaviour, between two runpodctls too).
    if (peer === "runpodctl") expect(sender.stderr + sender.stdout).toMatch(/message authentication failed/);
    else if (s) expect(s.code).not.toBe(0);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe("podkit and croc 10: relay password, declining, 1 GiB, resume", () => {
  it("a wrong relay password is refused on both relays with a clear error, nothing written", async () => {
    const { file } = makeTree();
    const sender = run(
      ns.name,
      podkitArgv(["send", file, "--code", newCode(), ...podkitFlags("croc relay", "nope")]),
    );
    const s = await sender.done;
    expect(s.code).toBe(5);
    expect(s.stderr).toMatch(/refused the relay password \(bad password\)/);
    expect(s.stdout).not.toMatch(/\d{4}-/); // no code was shown

    const out = tmp("out");
    const receiver = peerReceive("croc-v10", "podkit relay", newCode(), out, { pass: "nope" });
    const r = await receiver.done;
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/bad response: bad password/); // croc prints it on stdout
    expect(readdirSync(out)).toEqual([]);
  });

  it("a croc 10 receiver that declines: podkit send reports it, nothing written", async () => {
    const { file } = makeTree();
    const out = tmp("out");
    const code = newCode();
    const sender = run(ns.name, podkitArgv(["send", file, "--code", code, ...podkitFlags("croc relay")]));
    await sender.waitFor((o) => o.includes(`Code is: ${code}`));
    const receiver = peerReceive("croc-v10", "croc relay", code, out, { yes: false, stdin: "n\n" });
    const [s, r] = await Promise.all([sender.done, receiver.done]);
    expect(s.code).not.toBe(0);
    // croc says no more than "refusing files": the sender names both possible reasons.
    expect(s.stderr).toMatch(
      /the receiver refused the files \(declined, or it already has some of these files with other content\); nothing was sent/,
    );
    expect(r.code, r.stderr).not.toBe(0);
    expect(readdirSync(out)).toEqual([]);
  });

  it("podkit receive that declines: the croc 10 sender is told, nothing written", async () => {
    const { root } = makeTree();
    const out = tmp("out");
    const code = newCode();
    const sender = peerSend("croc-v10", "croc relay", code, ["plain file.bin"], root);
    await sender.waitFor((o) => o.includes(code));
    const receiver = run(ns.name, podkitArgv(["receive", code, "--out", out, ...podkitFlags("croc relay")]), {
      stdin: "n\n",
    });
    const [s, r] = await Promise.all([sender.done, receiver.done]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/transfer refused; nothing was written/);
    // croc's sender exits 1 without a word when a croc receiver declines, too.
    expect(s.code).toBe(1);
    expect(readdirSync(out)).toEqual([]);
  });

  const GiB = 1024 * 1024 * 1024;
  let big: string;
  let bigHash: string;
  beforeAll(async () => {
    big = join(tmp("big"), "model.bin");
    await writeRandomFile(big, 1024);
    bigHash = await sha256File(big);
  }, 300_000);
  afterAll(() => rmSync(join(big, ".."), { recursive: true, force: true }));

  it("1 GiB podkit send → croc 10 receive, and croc 10 send → podkit receive", async () => {
    for (const direction of ["podkit→croc", "croc→podkit"]) {
      const out = tmp("big-out");
      const code = newCode();
      const sender =
        direction === "podkit→croc"
          ? run(ns.name, podkitArgv(["send", big, "--code", code, ...podkitFlags("croc relay")]))
          : peerSend("croc-v10", "croc relay", code, [big], join(big, ".."));
      await sender.waitFor((o) => o.includes(code));
      const receiver =
        direction === "podkit→croc"
          ? peerReceive("croc-v10", "croc relay", code, out)
          : run(ns.name, podkitArgv(["receive", code, "--yes", "--out", out, ...podkitFlags("croc relay")]));
      const [s, r] = await Promise.all([sender.done, receiver.done]);
      expect([s.code, r.code], `${direction}\n${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
      expect(await sha256File(join(out, "model.bin"))).toBe(bigHash);
      rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);

  /** Bytes through the podkit relay's rooms since `from` lines of its --json output. */
  const relayBytes = (from: number): number =>
    podkitRelay.proc.stdout
      .split("\n")
      .slice(from)
      .filter((l) => l.includes('"closed"'))
      .reduce((n, l) => n + (JSON.parse(l) as { bytes: number }).bytes, 0);
  const relayLines = (): number => podkitRelay.proc.stdout.split("\n").length - 1;

  for (const receiverSide of ["croc 10", "podkit"]) {
    it(`resume: a 1 GiB transfer to ${receiverSide} whose receiver is killed continues where it stopped`, async () => {
      const out = tmp("resume-out");
      const code = newCode();
      const start = (): { sender: Proc; receiver: Promise<Proc> } => {
        const sender =
          receiverSide === "croc 10"
            ? run(
                ns.name,
                podkitArgv(["send", big, "--code", code, "--json", ...podkitFlags("podkit relay")]),
              )
            : peerSend("croc-v10", "podkit relay", code, [big], join(big, ".."));
        const receiver = sender
          .waitFor((o) => o.includes(code))
          .then(() =>
            receiverSide === "croc 10"
              ? peerReceive("croc-v10", "podkit relay", code, out)
              : run(
                  ns.name,
                  podkitArgv([
                    "receive",
                    code,
                    "--yes",
                    "--json",
                    "--out",
                    out,
                    ...podkitFlags("podkit relay"),
                  ]),
                ),
          );
        return { sender, receiver };
      };
      // First run: kill the receiver once about 40 % has been sent.
      const first = start();
      const firstReceiver = await first.receiver;
      const progressOf = receiverSide === "croc 10" ? first.sender : firstReceiver;
      await progressOf.waitFor((o) => {
        const last = o
          .split("\n")
          .filter((l) => l.includes('"type":"progress"'))
          .pop();
        return last !== undefined && (JSON.parse(last) as { bytes: number }).bytes > 0.4 * GiB;
      }, 300_000);
      firstReceiver.kill("SIGKILL");
      await firstReceiver.done;
      first.sender.kill("SIGTERM");
      await first.sender.done;
      await new Promise((r) => setTimeout(r, 500)); // the relay logs the closed rooms

      const mark = relayLines();
      const second = start();
      const secondReceiver = await second.receiver;
      const [s, r] = await Promise.all([second.sender.done, secondReceiver.done]);
      expect([s.code, r.code], `${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
      expect(await sha256File(join(out, "model.bin"))).toBe(bigHash);
      await new Promise((r) => setTimeout(r, 500));
      const resent = relayBytes(mark);
      console.info(
        `resume to ${receiverSide}: ${(resent / GiB).toFixed(2)} GiB through the relay the second time`,
      );
      expect(resent).toBeGreaterThan(0);
      expect(resent).toBeLessThan(0.7 * GiB);
      expect(existsSync(out)).toBe(true);
      rmSync(out, { recursive: true, force: true });
    }, 600_000);
  }
});
