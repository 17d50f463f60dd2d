// Benchmark: a file over a loopback Podkit relay (the real `podkit send` and `podkit receive` commands and
// a relay, each its own process), next to a raw TCP copy through a piping process and the AES-GCM +
// deflate ceiling of one core. Sender and receiver RSS peaks are those of the `podkit` processes.
// Default 256 MiB; BENCH_SIZE_MB=1024 for the 1 GiB; BENCH_RUNS (default 3), median reported.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { open, seal } from "../dist/crypto/aead.js";
import { AdaptiveCompressor, decompress } from "../dist/crypto/compress.js";

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEER = fileURLToPath(new URL("./peer.mjs", import.meta.url));
const REPORT = fileURLToPath(new URL("./report.mjs", import.meta.url));
const PODKIT = fileURLToPath(new URL("../../../apps/cli/dist/main.js", import.meta.url));
if (!existsSync(PODKIT)) throw new Error(`${PODKIT} is missing: run pnpm build first`);
const dir = mkdtempSync(join(tmpdir(), "podkit-bench-"));
const file = join(dir, "data.bin");

async function makeFile() {
  const w = createWriteStream(file);
  for (let i = 0; i < SIZE_MB; i++)
    if (!w.write(randomBytes(1024 * 1024))) await new Promise((r) => w.once("drain", r));
  await new Promise((r) => w.end(r));
}

/** Spawns a peer; resolves with the CPU seconds and peak RSS it reports about itself when it ends. */
function peer(args) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
function runPodkit(args, report) {
  const child = spawn(process.execPath, ["--import", REPORT, PODKIT, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, BENCH_REPORT: report },
  });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`podkit ${args[0]} exited ${code}: ${err}`));
      else resolve(JSON.parse(readFileSync(report, "utf8")));
    }),
  );
}

const firstLine = (child) =>
  new Promise((resolve) => child.stdout.once("data", (d) => resolve(d.toString().trim())));
const waitFile = async (p) => {
  while (!existsSync(p) || readFileSync(p, "utf8") === "") await new Promise((r) => setTimeout(r, 20));
  return readFileSync(p, "utf8");
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function podkitRun(i) {
  const relay = peer(["relay"]);
  const address = await firstLine(relay.child);
  const out = join(dir, `out-${i}`);
  const code = `${1000 + i}-bench-run-${i}`;
  const t0 = performance.now();
  const noCompress = process.env.BENCH_NO_COMPRESS === "1" ? ["--no-compress"] : [];
  const [sent, received] = await Promise.all([
    runPodkit(
      ["send", file, "--code", code, "--relay", address, "--json", ...noCompress],
      join(dir, `send-${i}.json`),
    ),
    runPodkit(
      ["receive", code, "--relay", address, "--out", out, "--yes", "--overwrite", "--json"],
      join(dir, `receive-${i}.json`),
    ),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  relay.child.kill("SIGTERM");
  const relayed = await relay.done;
  rmSync(out, { recursive: true, force: true });
  return {
    seconds,
    sendRss: sent.maxRssMb,
    recvRss: received.maxRssMb,
    cpu: sent.cpu + received.cpu + relayed.cpu,
    maxCpu: Math.max(sent.cpu, received.cpu, relayed.cpu),
  };
}

async function tcpRun(i) {
  const sinkPort = join(dir, `sink-${i}`);
  const pipePort = join(dir, `pipe-${i}`);
  const sink = peer(["tcp-sink", sinkPort, join(dir, `tcp-out-${i}`)]);
  const pipe = peer(["tcp-pipe", pipePort, await waitFile(sinkPort)]);
  const t0 = performance.now();
  const src = peer(["tcp-source", file, await waitFile(pipePort)]);
  const reports = await Promise.all([src.done, sink.done, pipe.done]);
  const seconds = (performance.now() - t0) / 1000;
  rmSync(join(dir, `tcp-out-${i}`), { force: true });
  return { seconds, cpu: reports.reduce((n, r) => n + r.cpu, 0) };
}

/** What one core can seal (deflate + AES-GCM) and open (AES-GCM + inflate) per second on random chunks. */
async function cryptoCeiling() {
  const key = randomBytes(32);
  const chunk = randomBytes(32768 + 8);
  const compressor = new AdaptiveCompressor();
  const n = 4096; // 128 MiB each way
  let t = performance.now();
  let sealed;
  for (let i = 0; i < n; i++) sealed = seal(key, await compressor.compress(chunk));
  const sendSecs = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < n; i++) decompress(open(key, sealed));
  const recvSecs = (performance.now() - t) / 1000;
  return { send: (n * 32768) / 1e6 / sendSecs, recv: (n * 32768) / 1e6 / recvSecs };
}

await makeFile();
const mb = (SIZE_MB * 1024 * 1024) / 1e6;
const podkit = [];
const tcp = [];
for (let i = 0; i < RUNS; i++) {
  tcp.push(await tcpRun(i));
  podkit.push(await podkitRun(i));
}
const ceiling = await cryptoCeiling();
const pk = median(podkit.map((r) => r.seconds));
const raw = median(tcp.map((r) => r.seconds));
const pkCpu = median(podkit.map((r) => r.cpu));
const rawCpu = median(tcp.map((r) => r.cpu));
// On two otherwise idle cores the three processes can at best share both cores fully.
const idleProjection = Math.max(pkCpu / 2, median(podkit.map((r) => r.maxCpu)));
const crocSeconds = (23 * SIZE_MB) / 1024; // croc 10 → croc 10, 1 GiB in 23 s on a 2-core machine (issue 4)
console.log(
  `file: ${SIZE_MB} MiB random, ${RUNS} runs, medians; machine shared with other work while measuring (load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")})`,
);
console.log(`raw TCP copy via a piping process : ${(mb / raw).toFixed(1)} MB/s (${raw.toFixed(2)} s)`);
console.log(
  `podkit send → relay → receive     : ${(mb / pk).toFixed(1)} MB/s (${pk.toFixed(2)} s) = ${(raw / pk).toFixed(2)}× raw TCP`,
);
console.log(
  `AES-GCM + deflate ceiling, 1 core : seal ${ceiling.send.toFixed(0)} MB/s, open ${ceiling.recv.toFixed(0)} MB/s`,
);
console.log(
  `CPU time, all processes           : podkit ${pkCpu.toFixed(2)} s, raw TCP ${rawCpu.toFixed(2)} s (${(pkCpu / rawCpu).toFixed(2)}×)`,
);
console.log(
  `vs croc 10 (23 s/GiB, issue 4)    : measured wall ${(crocSeconds / pk).toFixed(2)}×; CPU-bound projection for 2 idle cores ${(crocSeconds / idleProjection).toFixed(2)}× (${(mb / idleProjection).toFixed(0)} MB/s)`,
);
console.log(
  `peak RSS of podkit send / receive : sender ${median(podkit.map((r) => r.sendRss)).toFixed(0)} MB, receiver ${median(podkit.map((r) => r.recvRss)).toFixed(0)} MB (highest of ${RUNS} runs: ${Math.max(...podkit.map((r) => r.sendRss)).toFixed(0)} / ${Math.max(...podkit.map((r) => r.recvRss)).toFixed(0)} MB)`,
);
rmSync(dir, { recursive: true, force: true });
