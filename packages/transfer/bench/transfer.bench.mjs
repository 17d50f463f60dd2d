// Benchmark: a file over a loopback Podkit relay (sender, relay and receiver in separate processes),
// next to a raw TCP copy through a piping process and the AES-GCM + deflate ceiling of one core.
// Default 256 MiB; BENCH_SIZE_MB=1024 for the 1 GiB; BENCH_RUNS (default 3), median reported.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { open, seal } from "../dist/crypto/aead.js";
import { AdaptiveCompressor, decompress } from "../dist/crypto/compress.js";

const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEER = fileURLToPath(new URL("./peer.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "podkit-bench-"));
const file = join(dir, "data.bin");

async function makeFile() {
  const w = createWriteStream(file);
  for (let i = 0; i < SIZE_MB; i++)
    if (!w.write(randomBytes(1024 * 1024))) await new Promise((r) => w.once("drain", r));
  await new Promise((r) => w.end(r));
}

/** Spawns a peer; tracks its peak RSS (VmHWM) while it runs. */
function peer(args) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {}
  }, 50);
  const done = new Promise((resolve, reject) =>
    child.on("close", (code) => {
      clearInterval(poll);
      code === 0 || code === null ? resolve(peakKb / 1024) : reject(new Error(`${args[0]} exited ${code}`));
    }),
  );
  return { child, done };
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
  const s = peer(["send", file, code, address]);
  const r = peer(["receive", code, address, out]);
  const [sendRss, recvRss] = await Promise.all([s.done, r.done]);
  const seconds = (performance.now() - t0) / 1000;
  relay.child.kill("SIGTERM");
  await relay.done;
  rmSync(out, { recursive: true, force: true });
  return { seconds, sendRss, recvRss };
}

async function tcpRun(i) {
  const sinkPort = join(dir, `sink-${i}`);
  const pipePort = join(dir, `pipe-${i}`);
  const sink = peer(["tcp-sink", sinkPort, join(dir, `tcp-out-${i}`)]);
  const pipe = peer(["tcp-pipe", pipePort, await waitFile(sinkPort)]);
  const t0 = performance.now();
  const src = peer(["tcp-source", file, await waitFile(pipePort)]);
  await Promise.all([src.done, sink.done, pipe.done]);
  const seconds = (performance.now() - t0) / 1000;
  rmSync(join(dir, `tcp-out-${i}`), { force: true });
  return seconds;
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
const raw = median(tcp);
const crocSeconds = (23 * SIZE_MB) / 1024; // croc 10 → croc 10, 1 GiB in 23 s on a 2-core machine (issue 4)
console.log(
  `file: ${SIZE_MB} MiB random, ${RUNS} runs, medians; machine shared with other work while measuring`,
);
console.log(`raw TCP copy via a piping process : ${(mb / raw).toFixed(1)} MB/s (${raw.toFixed(2)} s)`);
console.log(
  `podkit send → relay → receive     : ${(mb / pk).toFixed(1)} MB/s (${pk.toFixed(2)} s) = ${(raw / pk).toFixed(2)}× raw TCP`,
);
console.log(
  `AES-GCM + deflate ceiling, 1 core : seal ${ceiling.send.toFixed(0)} MB/s, open ${ceiling.recv.toFixed(0)} MB/s`,
);
console.log(`vs croc 10 (23 s/GiB, issue 4)    : ${(crocSeconds / pk).toFixed(2)}×`);
console.log(
  `peak RSS (median)                 : sender ${median(podkit.map((r) => r.sendRss)).toFixed(0)} MB, receiver ${median(podkit.map((r) => r.recvRss)).toFixed(0)} MB`,
);
rmSync(dir, { recursive: true, force: true });
