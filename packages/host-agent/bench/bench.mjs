// Host agent benchmark. Figures are ratios against a baseline measured in the same run, because the
// machine is shared. Knobs: BENCH_CYCLES (collection cycles, default 200), BENCH_SCRAPE_SECONDS (10),
// BENCH_RSS_CYCLES (360 = one hour of 10 s cycles, run 3 times), BENCH_OUTBOX (10000),
// BENCH_ONLY (comma-separated parts to run: cycle, scrape, rss, outbox; default all).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { Registry } from "prom-client";
import { WebSocketServer } from "ws";
import {
  ControlPlaneConnection,
  evaluateHealth,
  gpuMetrics,
  healthMetrics,
  NODE_FLAGS,
  Outbox,
  readingFromQueryText,
  startAgent,
} from "../dist/index.js";

const env = (k, d) => Number(process.env[k] ?? d);
const CYCLES = env("BENCH_CYCLES", 200);
const SCRAPE_SECONDS = env("BENCH_SCRAPE_SECONDS", 10);
const RSS_CYCLES = env("BENCH_RSS_CYCLES", 360);
const OUTBOX = env("BENCH_OUTBOX", 10000);
const CAPTURE = fileURLToPath(new URL("../data/simulated/h100-8x.q.txt", import.meta.url));
const silent = pino({ level: "silent" });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const ms = (n) => `${n.toFixed(3)} ms`;
const tmp = () => mkdtempSync(join(tmpdir(), "podkit-bench-"));
/** A quiet simulated agent on an ephemeral port; loops only as often as `intervals` say. */
const simulatedAgent = (stateDir, intervals) =>
  startAgent({
    stateDir,
    metricsListen: "127.0.0.1:0",
    simulate: "h100-8x",
    kmsgPath: null,
    logger: silent,
    ...intervals,
  });

function timeCycles(n, fn) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

// 1. One full collection cycle on the 8× H100 capture: parse `-q`, evaluate health, update metrics.
function benchCycle() {
  const text = readFileSync(CAPTURE, "utf8");
  const registry = new Registry();
  const gpus = gpuMetrics(registry, true);
  const health = healthMetrics(registry);
  const baseline = timeCycles(CYCLES, () => readFileSync(CAPTURE, "utf8").split("\n").length);
  let previous = null;
  const cycle = timeCycles(CYCLES, () => {
    const r = readingFromQueryText({
      stdout: readFileSync(CAPTURE, "utf8"),
      stderr: "",
      exitCode: 0,
      timedOut: false,
    });
    previous = evaluateHealth({ now: new Date(), listed: null, reading: r, xids: [], previous });
    gpus.update(r);
    health.update({ report: previous, expected: 8 });
  });
  console.log(
    `collection cycle (8× H100 -q, ${text.length} bytes, median of ${CYCLES}): wall ${ms(cycle.wall)}, CPU ${ms(cycle.cpu)}`,
  );
  console.log(
    `  baseline (read + split the same file): wall ${ms(baseline.wall)} → cycle is ${(cycle.wall / baseline.wall).toFixed(1)}× the baseline`,
  );
}

async function load(url, seconds, rate) {
  const lat = [];
  const end = Date.now() + seconds * 1000;
  const pending = [];
  while (Date.now() < end) {
    const t0 = performance.now();
    pending.push(
      fetch(url).then(async (r) => {
        await r.text();
        lat.push(performance.now() - t0);
      }),
    );
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await Promise.all(pending);
  return lat;
}

// 1b. The agent's whole cycle (collectNow): /proc host sample, GPU parse, health, metrics, status.json
//     written atomically (fsync). Baseline: the same atomic write alone.
async function benchAgentCycle() {
  const dir = tmp();
  const agent = await simulatedAgent(dir, {
    gpuIntervalMs: 3600000,
    hostIntervalMs: 3600000,
    reportIntervalMs: 3600000,
  });
  const status = JSON.stringify(agent.status(), null, 2);
  const { writeFileSync, openSync, fsyncSync, closeSync, renameSync } = await import("node:fs");
  const wall = [];
  const cpu = [];
  const base = [];
  for (let i = 0; i < CYCLES; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await agent.collectNow();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    const b0 = performance.now();
    const tmpFile = join(dir, "b.tmp");
    writeFileSync(tmpFile, status);
    const fd = openSync(tmpFile, "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmpFile, join(dir, "b.json"));
    const dfd = openSync(dir, "r");
    fsyncSync(dfd);
    closeSync(dfd);
    base.push(performance.now() - b0);
  }
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `agent cycle (collectNow, simulated 8× H100, median of ${CYCLES}): wall ${ms(median(wall))}, CPU ${ms(median(cpu))}`,
  );
  console.log(
    `  baseline (the status file's atomic write alone): wall ${ms(median(base))} → cycle is ${(median(wall) / median(base)).toFixed(1)}× the baseline`,
  );
}

// 2. /metrics latency under 20 scrapes/s, against a static server returning a body of the same size.
async function benchScrape() {
  const dir = tmp();
  const agent = await simulatedAgent(dir, { gpuIntervalMs: 1000 });
  const body = await (await fetch(agent.metricsUrl)).text();
  const server = createServer((_q, res) => res.end(body));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = await load(`http://127.0.0.1:${server.address().port}/metrics`, SCRAPE_SECONDS, 20);
  const lat = await load(agent.metricsUrl, SCRAPE_SECONDS, 20);
  console.log(
    `/metrics at 20 scrapes/s for ${SCRAPE_SECONDS} s (${body.length} bytes, ${body.split("\n").filter((l) => l && !l.startsWith("#")).length} series): p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}`,
  );
  console.log(
    `  baseline (static body, same size): p50 ${ms(pct(base, 50))}, p99 ${ms(pct(base, 99))} → p50 ${(pct(lat, 50) / pct(base, 50)).toFixed(2)}×, p99 ${(pct(lat, 99) / pct(base, 99)).toFixed(2)}×`,
  );
  server.close();
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
}

// 3. RSS over many simulated cycles, in a child process of its own (so the figure is the agent's);
//    this process scrapes it over HTTP meanwhile, like Prometheus would (no forced GC before reading
//    RSS): `tuned` is what the systemd unit starts (NODE_FLAGS on node's command line, a
//    mark-compact after each cycle); untuned is node's defaults (by hand, or in-process in `podkit up`).
function child(script, onLine, nodeFlags = []) {
  const p = spawn(process.execPath, [...nodeFlags, "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
  });
  let buf = "";
  p.stdout.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      onLine(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  return new Promise((resolve, reject) =>
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`)))),
  );
}
async function benchRss(tuned) {
  const dir = tmp();
  const base = [];
  await child(`console.log(JSON.stringify({ rss: process.memoryUsage().rss }));`, (m) => base.push(m.rss));
  const samples = [];
  let url = null;
  let scrapes = 0;
  const scraper = setInterval(() => {
    if (url)
      fetch(url)
        .then((r) => r.text())
        .then(
          () => scrapes++,
          () => {},
        );
  }, 50);
  await child(
    `
    let compactHeap;
    const compactMs = [];
    const cycleCpuMs = [];
    if (${tuned}) {
      const heap = (await import("./dist/daemon.js")).tuneHeapForDaemon();
      compactHeap = () => { const t0 = performance.now(); heap.compact(); compactMs.push(performance.now() - t0); };
    }
    const { default: pino } = await import("pino");
    const { startAgent } = await import("./dist/index.js");
    const a = await startAgent({ stateDir: ${JSON.stringify(dir)}, metricsListen: "127.0.0.1:0", simulate: "h100-8x", kmsgPath: null, logger: pino({ level: "silent" }), gpuIntervalMs: 3600000, hostIntervalMs: 3600000, reportIntervalMs: 3600000, compactHeap });
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    const report = () => console.log(JSON.stringify({ url: a.metricsUrl, ...process.memoryUsage(), compactMs: median(compactMs), cycleCpuMs: median(cycleCpuMs) }));
    report();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < ${RSS_CYCLES}; i++) {
        const c0 = process.cpuUsage();
        await a.collectNow();
        const c = process.cpuUsage(c0);
        cycleCpuMs.push((c.user + c.system) / 1000);
        await new Promise((r) => setTimeout(r, 2));
      }
      report();
    }
    await a.close();`,
    (m) => {
      url = m.url;
      samples.push(m);
    },
    tuned ? NODE_FLAGS.split(" ") : [],
  );
  clearInterval(scraper);
  const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
  const last = samples[3];
  console.log(
    `RSS (${tuned ? "started with NODE_FLAGS like the systemd unit" : "untuned, e.g. in-process"}): after start ${mb(samples[0].rss)}; after ${RSS_CYCLES}, ${2 * RSS_CYCLES}, ${3 * RSS_CYCLES} cycles with ${scrapes} scrapes meanwhile: ${samples
      .slice(1)
      .map((m) => mb(m.rss))
      .join(
        ", ",
      )}; at the end heap used ${mb(last.heapUsed)} of ${mb(last.heapTotal)}, external ${mb(last.external)}; median CPU per cycle ${ms(last.cycleCpuMs)}${tuned ? ` of which the mark-compact ${ms(last.compactMs)} (wall)` : ""}`,
  );
  console.log(
    `  baseline (bare node process): ${mb(base[0])} → agent is ${(last.rss / base[0]).toFixed(2)}× the baseline; growth from the 1st to the 3rd round: ${mb(last.rss - samples[1].rss)}`,
  );
  rmSync(dir, { recursive: true, force: true });
}

// 4. Outbox drain: 10,000 queued telemetry reports (8 GPUs each) delivered after an outage.
async function benchOutbox() {
  const reading = readingFromQueryText({
    stdout: readFileSync(CAPTURE, "utf8"),
    stderr: "",
    exitCode: 0,
    timedOut: false,
  });
  const host = {
    at: new Date().toISOString(),
    hostname: "bench",
    cpuCount: 2,
    cpuUtilizationRatio: 0.1,
    load1: 0.5,
    memoryTotalBytes: 1e10,
    memoryAvailableBytes: 5e9,
    disks: [],
  };
  const msg = (i) => ({
    v: 1,
    id: `tel-bench-${String(i).padStart(6, "0")}`,
    type: "telemetry",
    sentAt: new Date().toISOString(),
    payload: { host, gpus: reading.gpus },
  });
  const received = new Set();
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) =>
    ws.on("message", (d) => {
      const m = JSON.parse(String(d));
      received.add(m.id);
      ws.send(
        JSON.stringify({
          v: 1,
          id: `ack-${m.id}`,
          type: "ack",
          sentAt: new Date().toISOString(),
          payload: { ids: [m.id] },
        }),
      );
    }),
  );
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${http.address().port}`;

  // Baseline: the same messages over the same socket, from memory, with the same window of 256.
  const { default: WebSocket } = await import("ws");
  const t0 = performance.now();
  await new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/api/v1/agent/ws`);
    let next = 0;
    let acked = 0;
    ws.on("open", () => {
      while (next < Math.min(256, OUTBOX)) ws.send(JSON.stringify(msg(next++)));
    });
    ws.on("message", () => {
      acked++;
      if (next < OUTBOX) ws.send(JSON.stringify(msg(next++)));
      if (acked === OUTBOX) {
        ws.close();
        resolve();
      }
    });
  });
  const baseMs = performance.now() - t0;
  received.clear();

  const dir = tmp();
  const outbox = new Outbox(join(dir, "outbox"));
  const e0 = performance.now();
  outbox.enqueueMany(Array.from({ length: OUTBOX }, (_, i) => msg(i)));
  const enqueueMs = performance.now() - e0;
  const d0 = performance.now();
  const conn = new ControlPlaneConnection({
    controlPlane: url,
    hostToken: "pkh_bench",
    outbox,
    logger: silent,
    machineInfo: () => ({
      hostname: "bench",
      cpuCount: 2,
      memoryTotalBytes: 1,
      driverVersion: null,
      cudaVersion: null,
      gpus: [],
      simulated: true,
    }),
    onHostState: () => {},
    heartbeatIntervalMs: 3600000,
  });
  conn.start();
  await new Promise((resolve) => {
    const t = setInterval(() => {
      if (outbox.size === 0) {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });
  const drainMs = performance.now() - d0;
  await conn.close();
  wss.close();
  http.close();
  console.log(
    `outbox: enqueue ${OUTBOX} reports durably (fsync per file, one dir fsync) ${(enqueueMs / 1000).toFixed(2)} s = ${Math.round(OUTBOX / (enqueueMs / 1000))}/s; drain after the outage ${(drainMs / 1000).toFixed(2)} s = ${Math.round(OUTBOX / (drainMs / 1000))} reports/s, all ${received.size} received`,
  );
  console.log(
    `  baseline (same messages from memory, same socket and window): ${(baseMs / 1000).toFixed(2)} s → drain is ${(drainMs / baseMs).toFixed(2)}× the baseline`,
  );
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `podkit host-agent benchmark (${new Date().toISOString()}, node ${process.version}; shared 2-core machine: figures are noisy, compare ratios)`,
);
const only = new Set((process.env.BENCH_ONLY ?? "cycle,scrape,rss,outbox").split(","));
if (only.has("cycle")) {
  benchCycle();
  await benchAgentCycle();
}
if (only.has("scrape")) await benchScrape();
if (only.has("rss")) {
  await benchRss(true);
  await benchRss(false);
}
if (only.has("outbox")) await benchOutbox();
