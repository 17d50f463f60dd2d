// Benchmark: a file over a loopback Podkit relay (the real `podkit send` and `podkit receive` commands of
// the bundled CLI, the receiver started when the code is shown, and a relay, each its own process), next to a raw TCP copy through a piping process, croc 10 → croc 10
// through the same relay (the real croc binary), and the AES-GCM + deflate ceiling of one core; then the
// direct path between two network namespaces next to a raw TCP copy between them. Sender and receiver RSS
// peaks are those of the `podkit` processes. Default 256 MiB; BENCH_SIZE_MB=1024 for 1 GiB; BENCH_RUNS
// (default 3), median reported. As root everything runs in two namespaces of its own (pkxfer-bench-*,
// 10.66.0.0/24), so croc's multicast and DNS look-ups stay inside; croc comes from PODKIT_PEERS.
// BENCH_PROFILE_DIR=DIR writes a V8 CPU profile of each podkit process and relay there (node --cpu-prof).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  accessSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { open, sealParts } from "../dist/crypto/aead.js";
import { WIRE_CHUNK_BYTES } from "../dist/crypto/chunks.js";
import { AdaptiveCompressor, inflateChunk } from "../dist/crypto/compress.js";

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 256);
/** BENCH_PROFILE_DIR: each podkit process and relay writes a V8 CPU profile there (`node --cpu-prof`). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ? resolve(process.env.BENCH_PROFILE_DIR) : null;
const profile = (name) => (PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${join(PROFILE_DIR, name)}`] : []);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEER = fileURLToPath(new URL("./peer.mjs", import.meta.url));
const REPORT = fileURLToPath(new URL("./report.mjs", import.meta.url));
// The bundled CLI, as the npm package and the single executable run it (the workspace build's ESM
// modules take about twice as long to start).
const PODKIT = fileURLToPath(new URL("../../../apps/cli/dist/bundle/podkit.cjs", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
if (!existsSync(PODKIT)) throw new Error(`${PODKIT} is missing: run pnpm build first`);
/** The Node.js flags of the launcher's shebang (`#!/usr/bin/env -S node FLAGS`), so podkit starts as users start it. */
const LAUNCHER_FLAGS = readFileSync(PODKIT, "utf8")
  .split("\n", 1)[0]
  .replace(/^#!\S*env -S node\b/, "")
  .split(" ")
  .filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), "podkit-bench-"));
const file = join(dir, "data.bin");

const CROC =
  process.env.PODKIT_CROC_V10 ??
  join(resolve(REPO, process.env.PODKIT_PEERS ?? "../shared/peers"), "croc-v10");
const executable = (p) => {
  try {
    accessSync(p, 1);
    return true;
  } catch {
    return false;
  }
};

/** Two namespaces joined by a veth pair: A 10.66.0.1, B 10.66.0.2 (root only). */
function namespaces() {
  if (process.getuid?.() !== 0) return null;
  const tag = process.pid % 100_000;
  const ns = { a: `pkxfer-bench-a-${tag}`, b: `pkxfer-bench-b-${tag}` };
  const ip = (...args) => execFileSync("ip", args);
  for (const n of Object.values(ns)) {
    ip("netns", "add", n);
    ip("-n", n, "link", "set", "lo", "up");
  }
  ip("-n", ns.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", ns.b);
  ip("-n", ns.a, "addr", "add", "10.66.0.1/24", "dev", "eth0");
  ip("-n", ns.b, "addr", "add", "10.66.0.2/24", "dev", "eth0");
  for (const n of Object.values(ns)) ip("-n", n, "link", "set", "eth0", "up");
  const remove = () => {
    for (const n of Object.values(ns)) ip("netns", "delete", n);
  };
  return { ...ns, remove };
}
const NS = namespaces();
// A failed run must not leave a waiting croc or podkit behind.
const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
const track = (child) => {
  children.add(child);
  child.on("close", () => children.delete(child));
  return child;
};
/** argv run inside namespace `ns` (when the bench has namespaces). */
const inNs = (ns, argv) => (NS && ns ? ["ip", "netns", "exec", NS[ns], ...argv] : argv);

async function makeFile() {
  const w = createWriteStream(file);
  for (let i = 0; i < SIZE_MB; i++)
    if (!w.write(randomBytes(1024 * 1024))) await new Promise((r) => w.once("drain", r));
  await new Promise((r) => w.end(r));
  // Written out now: its dirty pages would otherwise be flushed during the measured runs, slowing
  // whichever run's writes happen to meet the kernel's writeback.
  execFileSync("sync", [file]);
}

/** Spawns a peer; resolves with the CPU seconds and peak RSS it reports about itself when it ends. */
function peer(args, ns = "a", prof = []) {
  const [cmd, ...argv] = inNs(ns, [process.execPath, ...prof, PEER, ...args]);
  const child = track(spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] }));
  let err = "";
  child.stderr.on("data", (d) => {
    err += d.toString();
  });
  const done = new Promise((resolve, reject) =>
    child.on("close", (code) => {
      const line = err.trim().split("\n").at(-1) ?? "";
      if (code !== 0 && code !== null) reject(new Error(`${args[0]} exited ${code}: ${err}`));
      else resolve(JSON.parse(line));
    }),
  );
  return { child, done };
}

/** A `podkit` command as users run it; resolves with the CPU seconds and peak RSS it reports. */
function runPodkit(args, report, ns = "a", prof = []) {
  // Started as the podkit launcher starts node (--expose-gc: the chunk loops pace their collections).
  const [cmd, ...argv] = inNs(ns, [
    process.execPath,
    ...LAUNCHER_FLAGS,
    ...prof,
    "--import",
    REPORT,
    PODKIT,
    ...args,
  ]);
  const child = track(
    spawn(cmd, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BENCH_REPORT: report },
    }),
  );
  let err = "";
  let out = "";
  const started = performance.now();
  let codeAfter = null;
  let codeShown;
  const shown = new Promise((resolve) => {
    codeShown = resolve;
  });
  child.stdout.on("data", (d) => {
    out += d.toString();
    if (codeAfter === null && out.includes('"type":"code"')) {
      codeAfter = (performance.now() - started) / 1000;
      codeShown();
    }
  });
  child.stderr.on("data", (d) => {
    err += d.toString();
  });
  const done = new Promise((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`podkit ${args[0]} exited ${code}: ${err}`));
      else resolve({ ...JSON.parse(readFileSync(report, "utf8")), stdout: out, codeAfter });
    }),
  );
  return { shown, done };
}

/** The real croc 10 binary, with its own config and home. */
function runCroc(args, code) {
  const home = join(dir, `croc-home-${code}`);
  mkdirSync(join(home, "conf"), { recursive: true });
  const [cmd, ...argv] = inNs("a", [CROC, ...args]);
  const child = track(
    spawn(cmd, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HOME: home, CROC_CONFIG_DIR: join(home, "conf"), CROC_SECRET: code },
    }),
  );
  let err = "";
  // croc prints its errors on stdout.
  child.stdout.on("data", (d) => {
    err += d.toString();
  });
  child.stderr.on("data", (d) => {
    err += d.toString();
  });
  return {
    codeShown: new Promise((resolve) => {
      const check = () => err.includes("Code is") && resolve();
      child.stderr.on("data", check);
    }),
    done: new Promise((resolve, reject) =>
      child.on("close", (exit) =>
        exit === 0 ? resolve() : reject(new Error(`croc exited ${exit}: ${err}`)),
      ),
    ),
  };
}

const firstLine = (child) =>
  new Promise((resolve) => child.stdout.once("data", (d) => resolve(d.toString().trim())));
const waitFile = async (p) => {
  while (!existsSync(p) || readFileSync(p, "utf8") === "") await new Promise((r) => setTimeout(r, 20));
  return readFileSync(p, "utf8");
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * `podkit send` → `podkit receive` through a relay on loopback (`--no-local`: every byte through the
 * relay), or with `direct` from namespace A to B, where the receiver takes the sender's own path.
 */
async function podkitRun(i, direct = false) {
  const path = direct ? "direct" : "relay";
  const relay = peer(
    ["relay", direct ? "10.66.0.1" : "127.0.0.1"],
    "a",
    direct ? [] : profile(`${path}-${i}/relay`),
  );
  const address = await firstLine(relay.child);
  const out = join(dir, `out-${i}`);
  const code = `${1000 + i}-bench-run-${i}${direct ? "-direct" : ""}`;
  const t0 = performance.now();
  const noCompress = process.env.BENCH_NO_COMPRESS === "1" ? ["--no-compress"] : [];
  const local = direct ? [] : ["--no-local"];
  const sender = runPodkit(
    ["send", file, "--code", code, "--relay", address, "--json", ...local, ...noCompress],
    join(dir, `send-${i}.json`),
    "a",
    profile(`${path}-${i}/send`),
  );
  // The receiver starts when the code is shown, as a user (and the croc baseline below) starts it.
  await sender.shown;
  const receiver = runPodkit(
    ["receive", code, "--relay", address, "--out", out, "--yes", "--overwrite", "--json", ...local],
    join(dir, `receive-${i}.json`),
    direct ? "b" : "a",
    profile(`${path}-${i}/receive`),
  );
  const [sent, received] = await Promise.all([sender.done, receiver.done]);
  const seconds = (performance.now() - t0) / 1000;
  relay.child.kill("SIGTERM");
  const relayed = await relay.done;
  rmSync(out, { recursive: true, force: true });
  if (direct && !received.stdout.includes("directly"))
    throw new Error("the direct run went through the relay");
  return {
    seconds,
    sendRss: sent.maxRssMb,
    recvRss: received.maxRssMb,
    codeAfter: sent.codeAfter,
    cpu: sent.cpu + received.cpu + (direct ? 0 : relayed.cpu),
    procs: direct ? [sent.cpu, received.cpu] : [sent.cpu, relayed.cpu, received.cpu],
  };
}

/** croc 10 → croc 10 through the same kind of relay, on loopback. */
async function crocRun(i) {
  const relay = peer(["relay"]);
  const address = await firstLine(relay.child);
  const out = join(dir, `croc-out-${i}`);
  mkdirSync(out);
  const code = `${2000 + i}-croc-bench-${i}`;
  const t0 = performance.now();
  const sender = runCroc(["--relay", address, "--pass", "pass123", "send", "--no-local", file], code);
  await sender.codeShown;
  const receiver = runCroc(
    ["--relay", address, "--pass", "pass123", "--yes", "--overwrite", "--out", out],
    code,
  );
  await Promise.all([sender.done, receiver.done]);
  const seconds = (performance.now() - t0) / 1000;
  relay.child.kill("SIGTERM");
  await relay.done;
  rmSync(out, { recursive: true, force: true });
  return { seconds };
}

/** A raw TCP copy through a piping process on loopback, or straight from namespace A to B. */
async function tcpRun(i, direct = false) {
  const sinkPort = join(dir, `sink-${i}`);
  const pipePort = join(dir, `pipe-${i}`);
  rmSync(sinkPort, { force: true });
  rmSync(pipePort, { force: true });
  const reports = [];
  const sink = direct
    ? peer(["tcp-sink", sinkPort, join(dir, `tcp-out-${i}`), "10.66.0.2"], "b")
    : peer(["tcp-sink", sinkPort, join(dir, `tcp-out-${i}`)]);
  let target = await waitFile(sinkPort);
  if (!direct) {
    const pipe = peer(["tcp-pipe", pipePort, target]);
    reports.push(pipe.done);
    target = await waitFile(pipePort);
  }
  const t0 = performance.now();
  const src = peer(direct ? ["tcp-source", file, target, "10.66.0.2"] : ["tcp-source", file, target]);
  const [source, sunk, ...piped] = await Promise.all([src.done, sink.done, ...reports]);
  const seconds = (performance.now() - t0) / 1000;
  rmSync(join(dir, `tcp-out-${i}`), { force: true });
  const procs = [source.cpu, ...piped.map((r) => r.cpu), sunk.cpu];
  return { seconds, cpu: procs.reduce((n, c) => n + c, 0), procs };
}

/**
 * What one core can seal (stored DEFLATE + AES-GCM) and open (AES-GCM, stored blocks sliced out) per
 * second, on random chunks of the size a whole-file send uses.
 */
async function cryptoCeiling() {
  const key = randomBytes(32);
  const chunk = randomBytes(WIRE_CHUNK_BYTES + 8);
  const compressor = new AdaptiveCompressor();
  const n = 512; // 128 MiB each way
  let t = performance.now();
  let parts;
  for (let i = 0; i < n; i++) parts = sealParts(key, await compressor.compressChunk(chunk));
  const sendSecs = (performance.now() - t) / 1000;
  const sealed = Buffer.concat(parts);
  t = performance.now();
  for (let i = 0; i < n; i++) inflateChunk(open(key, sealed), WIRE_CHUNK_BYTES + 8);
  const recvSecs = (performance.now() - t) / 1000;
  const bytes = n * WIRE_CHUNK_BYTES;
  return { send: bytes / 1e6 / sendSecs, recv: bytes / 1e6 / recvSecs };
}

const uptime = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}, ${cpus().length} CPUs`;
const loadBefore = uptime();
await makeFile();
const mb = (SIZE_MB * 1024 * 1024) / 1e6;
const haveCroc = NS !== null && executable(CROC);
const podkit = [];
const tcp = [];
const croc = [];
const direct = [];
const tcpDirect = [];
try {
  for (let i = 0; i < RUNS; i++) {
    tcp.push(await tcpRun(i));
    podkit.push(await podkitRun(i));
    if (haveCroc) croc.push(await crocRun(i));
    if (NS) {
      tcpDirect.push(await tcpRun(i, true));
      direct.push(await podkitRun(i, true));
    }
  }
} finally {
  NS?.remove();
}
const ceiling = await cryptoCeiling();
const pk = median(podkit.map((r) => r.seconds));
const raw = median(tcp.map((r) => r.seconds));
const pkCpu = median(podkit.map((r) => r.cpu));
const rawCpu = median(tcp.map((r) => r.cpu));
const perGiB = (cpu) => cpu / (SIZE_MB / 1024);
const procs = (runs) =>
  runs[0].procs.map((_, j) => perGiB(median(runs.map((r) => r.procs[j]))).toFixed(2)).join(" + ");
const rate = (s) => `${(mb / s).toFixed(1)} MB/s (${s.toFixed(2)} s)`;
const rss = (runs) =>
  `sender ${median(runs.map((r) => r.sendRss)).toFixed(0)} MB, receiver ${median(runs.map((r) => r.recvRss)).toFixed(0)} MB (highest of ${RUNS} runs: ${Math.max(...runs.map((r) => r.sendRss)).toFixed(0)} / ${Math.max(...runs.map((r) => r.recvRss)).toFixed(0)} MB)`;
console.log(`file: ${SIZE_MB} MiB random, ${RUNS} runs, medians; ${loadBefore} before, ${uptime()} after`);
console.log(`raw TCP copy via a piping process : ${rate(raw)}`);
console.log(
  `podkit send → relay → receive     : ${rate(pk)} = ${(raw / pk).toFixed(2)}× raw TCP (goal ≥ 0.85)`,
);
if (croc.length) {
  const cr = median(croc.map((r) => r.seconds));
  console.log(
    `croc 10 → croc 10, same relay     : ${rate(cr)}; podkit = ${(cr / pk).toFixed(2)}× croc 10 (goal ≥ 3)`,
  );
} else console.log(`croc 10 → croc 10                 : not run (needs root for its namespace and ${CROC})`);
if (direct.length) {
  const rd = median(tcpDirect.map((r) => r.seconds));
  const pd = median(direct.map((r) => r.seconds));
  console.log(`raw TCP between two namespaces    : ${rate(rd)}`);
  console.log(
    `podkit direct between them        : ${rate(pd)} = ${(rd / pd).toFixed(2)}× raw TCP (goal ≥ 0.9)`,
  );
  console.log(
    `CPU-seconds per GiB, direct       : send + receive ${procs(direct)} (${(median(direct.map((r) => r.cpu)) / median(tcpDirect.map((r) => r.cpu))).toFixed(2)}× raw); raw source + sink ${procs(tcpDirect)}`,
  );
} else console.log("direct path                       : not run (needs root for its namespaces)");
console.log(
  `AES-GCM + deflate ceiling, 1 core : seal ${ceiling.send.toFixed(0)} MB/s, open ${ceiling.recv.toFixed(0)} MB/s`,
);
console.log(
  `CPU time, all processes           : podkit ${pkCpu.toFixed(2)} s, raw TCP ${rawCpu.toFixed(2)} s (${(pkCpu / rawCpu).toFixed(2)}×)`,
);
console.log(
  `CPU-seconds per GiB, per process  : send + relay + receive ${procs(podkit)}; raw source + pipe + sink ${procs(tcp)}`,
);
console.log(
  `best ratio the CPU allows          : ${(rawCpu / pkCpu).toFixed(2)}× raw TCP (raw CPU ÷ podkit CPU: on busy cores the wall ratio cannot beat it)`,
);
console.log(
  `podkit send in its rooms, code shown: ${median(podkit.map((r) => r.codeAfter)).toFixed(2)} s after it started (slowest ${Math.max(...podkit.map((r) => r.codeAfter)).toFixed(2)} s)`,
);
console.log(`peak RSS, relay run               : ${rss(podkit)}`);
if (direct.length) console.log(`peak RSS, direct run              : ${rss(direct)}`);
rmSync(dir, { recursive: true, force: true });
