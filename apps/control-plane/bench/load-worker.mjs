// One load-generator process of the ingest benchmark (started by bench/ingest.ts with `fork`).
// It enrols, connects and drives its share of the simulated agents, and keeps each report's
// send → ack latency. Plain JavaScript with no validation on purpose: the generator shares the
// machine's 2 cores with the server under test, so it should cost as little CPU as it can, and
// several of them keep one busy event loop from inflating the latencies it measures.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

const PROTOCOL_VERSION = 1;
const REPORT_EVERY_MS = 5000;
const AGENT_WS_PATH = "/api/v1/agent/ws";

function machine(n) {
  return {
    hostname: `bench-${n}`,
    cpuCount: 64,
    memoryTotalBytes: 512e9,
    driverVersion: "550.54.15",
    cudaVersion: "12.4",
    gpus: Array.from({ length: 8 }, (_, index) => ({
      index,
      uuid: `GPU-bench-${n}-${index}`,
      name: "NVIDIA H100 80GB HBM3",
      pciBusId: `00000000:${index}0:00.0`,
      memoryTotalBytes: 85_899_345_920,
      gpuTypeId: "NVIDIA H100 80GB HBM3",
    })),
    simulated: true,
  };
}

/** An 8-GPU telemetry report, as the agent sends it every 5 s. */
function telemetryFrame(n, id) {
  const at = new Date().toISOString();
  const gpus = [];
  for (let index = 0; index < 8; index++) {
    gpus.push({
      index,
      uuid: `GPU-bench-${n}-${index}`,
      name: "NVIDIA H100 80GB HBM3",
      pciBusId: `00000000:${index}0:00.0`,
      temperatureCelsius: 55 + (index % 5),
      utilizationRatio: Math.random(),
      memoryUsedBytes: 4e10,
      memoryTotalBytes: 85_899_345_920,
      powerWatts: 400 + Math.random() * 200,
    });
  }
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    id,
    type: "telemetry",
    sentAt: at,
    payload: {
      host: {
        at,
        hostname: `bench-${n}`,
        cpuCount: 64,
        cpuUtilizationRatio: 0.3,
        load1: 4,
        memoryTotalBytes: 512e9,
        memoryAvailableBytes: 200e9,
        disks: [],
      },
      gpus,
    },
  });
}

const agents = [];
const timers = [];
let latencies = [];
let failures = 0;

async function enroll(url, admin, n) {
  const created = await fetch(`${url}/api/v1/enrollment-tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: "{}",
  });
  const { token } = await created.json();
  const res = await fetch(`${url}/api/v1/agents/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ enrollmentToken: token, machine: machine(n) }),
  });
  if (res.status !== 201) throw new Error(`enrolment refused: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).hostToken;
}

/** Connect one agent; with `register` it sends its machine description and waits for the ack. */
async function connect(url, hostToken, n, register) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}${AGENT_WS_PATH}`, {
    headers: { authorization: `Bearer ${hostToken}` },
    perMessageDeflate: false,
  });
  const waiting = new Map();
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
  ws.on("error", () => {});
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    if (msg.type !== "ack" && msg.type !== "nack") return;
    const now = performance.now();
    const ids = msg.type === "ack" ? msg.payload.ids : [msg.payload.id];
    for (const id of ids) {
      const w = waiting.get(id);
      if (w === undefined) continue;
      waiting.delete(id);
      if (msg.type === "ack") latencies.push(now - w.sentAt);
      else failures++;
      w.done();
    }
  });
  const send = (id, frame) =>
    new Promise((done) => {
      waiting.set(id, { sentAt: performance.now(), done });
      ws.send(frame);
    });
  if (register) {
    const id = randomUUID();
    const frame = JSON.stringify({
      v: PROTOCOL_VERSION,
      id,
      type: "register",
      sentAt: new Date().toISOString(),
      payload: machine(n),
    });
    await send(id, frame);
  }
  return { n, ws, send };
}

async function inParallel(items, width, fn) {
  let next = 0;
  const out = [];
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k]);
      }
    }),
  );
  return out;
}

const handlers = {
  /** Enrol (or, for the baseline, just name) and connect agents `from`…`to - 1`, then start reporting. */
  async add({ url, admin, from, to, baseline }) {
    const ns = Array.from({ length: to - from }, (_, k) => from + k);
    const added = await inParallel(ns, 8, async (n) => {
      const token = baseline ? "pkh_baseline" : await enroll(url, admin, n);
      return connect(url, token, n, !baseline);
    });
    for (const agent of added) {
      agents.push(agent);
      // Each agent reports every 5 s from a random phase, as a real fleet would.
      const start = setTimeout(() => {
        const tick = () => {
          const id = randomUUID();
          void agent.send(id, telemetryFrame(agent.n, id));
        };
        tick();
        timers.push(setInterval(tick, REPORT_EVERY_MS));
      }, Math.random() * REPORT_EVERY_MS);
      timers.push(start);
    }
    return { connected: agents.length };
  },
  reset() {
    latencies = [];
    failures = 0;
    return {};
  },
  collect() {
    return { latencies, failures };
  },
  async stop() {
    for (const t of timers) clearInterval(t);
    for (const a of agents) a.ws.terminate();
    return {};
  },
};

process.on("message", async ({ seq, op, args }) => {
  try {
    process.send({ seq, ok: true, result: await handlers[op](args ?? {}) });
  } catch (err) {
    process.send({ seq, ok: false, error: String(err?.stack ?? err) });
  }
});
