/**
 * Main-thread cost of one small-object request, measured with a CPU profile: for each of PUT, GET
 * and HEAD of 4 KiB objects under 16 concurrent clients against a one-process gateway, the main
 * thread's CPU time (from /proc) divided by the requests gives µs per request, and a second pass
 * under V8's CPU profiler (what `node --cpu-prof` runs) gives the heaviest frames, self and
 * inclusive.
 * `pnpm --filter @podkit/s3-gateway bench:profile`; BENCH_PROFILE_COUNT (default 4000) requests
 * per operation, BENCH_PROFILE_TOP (default 15) frames per list.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  closeClient,
  httpGet,
  httpPut,
  KEY,
  LAUNCHER_NODE_FLAGS,
  pool,
  SECRET,
  threadCpuSeconds,
  timed,
} from "./client.js";

const COUNT = Number(process.env.BENCH_PROFILE_COUNT ?? 4000);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 15);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules|src|dist)\//, "$1/").replace(/^node:/, "");
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/** Self and inclusive sample time (µs) per frame name; a recursive frame counts once per stack. */
export function frameTimes(profile: CpuProfile): {
  self: Map<string, number>;
  inclusive: Map<string, number>;
  totalUs: number;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of timeOf) {
    const node = byId.get(id)!;
    const name = frameName(node);
    if (name === "(idle)") continue;
    totalUs += us;
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = frameName(byId.get(at)!);
      if (seen.has(n) || n === "(root)") continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + us);
    }
  }
  return { self, inclusive, totalUs };
}

function top(map: Map<string, number>, scale: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([name, us]) => `    ${(us * scale).toFixed(1).padStart(7)} µs  ${name}`);
}

/** Lines of a child's stdout, one at a time. */
function lines(proc: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let rest = "";
  proc.stdout!.on("data", (c: Buffer) => {
    rest += String(c);
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      const next = waiting.shift();
      if (next) next(line);
      else queue.push(line);
    }
  });
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r)));
}

/**
 * One one-process gateway for one operation: a clean pass measures CPU per request (main thread
 * from /proc), a second pass runs under V8's CPU profiler for the frames. Returns report lines.
 */
async function profileOne(
  root: string,
  profDir: string,
  op: "PUT" | "GET" | "HEAD",
  keys: string[],
): Promise<string[]> {
  const serveJs = new URL("./serve.js", import.meta.url).pathname;
  mkdirSync(profDir, { recursive: true });
  const profileFile = join(profDir, `${op}.cpuprofile`);
  const proc = spawn(process.execPath, [...LAUNCHER_NODE_FLAGS, serveJs, root, KEY, SECRET, "1"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, BENCH_CPU_PROFILE: profileFile },
  });
  const nextLine = lines(proc);
  const endpoint = (JSON.parse(await nextLine()) as { endpoint: string }).endpoint;
  const s3 = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
  });
  const body = randomBytes(4096);
  const command = (k: string) =>
    op === "PUT"
      ? new PutObjectCommand({ Bucket: "vol-bench", Key: k })
      : op === "GET"
        ? new GetObjectCommand({ Bucket: "vol-bench", Key: k })
        : new HeadObjectCommand({ Bucket: "vol-bench", Key: k });
  const urls = await Promise.all(keys.map((k) => getSignedUrl(s3, command(k), { expiresIn: 3600 })));
  s3.destroy();
  const run = (u: string) => (op === "PUT" ? httpPut(u, 4096, body) : httpGet(u, op));
  await pool(urls.slice(0, 500), run); // warm-up: JIT, caches
  const pid = proc.pid!;
  const mainBefore = threadCpuSeconds(pid, pid);
  const allBefore = threadCpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  const seconds = await timed(() => pool(urls, run));
  const mainUs = ((threadCpuSeconds(pid, pid) - mainBefore) * 1e6) / urls.length;
  const allUs = ((threadCpuSeconds(pid) - allBefore) * 1e6) / urls.length;
  const client = process.cpuUsage(clientBefore);
  const clientUs = (client.user + client.system) / urls.length;
  proc.kill("SIGUSR2");
  await nextLine(); // profiling
  await pool(urls, run);
  proc.kill("SIGUSR2");
  await nextLine(); // profiled
  await new Promise<void>((resolve) => {
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
  });
  const times = frameTimes(JSON.parse(readFileSync(profileFile, "utf8")) as CpuProfile);
  // Samples are taken on wall-clock ticks, also while the thread waits for a core on a busy
  // machine: shares of the samples, times the measured CPU per request, estimate each frame's CPU.
  const scale = mainUs / times.totalUs;
  return [
    `${op} 4 KiB, ${urls.length} requests, 16 concurrent: ${(urls.length / seconds).toFixed(0)} ops/s; CPU per request: gateway main thread ${mainUs.toFixed(0)} µs, whole gateway process ${allUs.toFixed(0)} µs, load generator ${clientUs.toFixed(0)} µs`,
    `  profiled pass: ${(times.totalUs / urls.length).toFixed(0)} µs of non-idle samples per request; frames below in µs of main-thread CPU per request (share of samples x ${mainUs.toFixed(0)} µs)`,
    "  top self time:",
    ...top(times.self, scale),
    "  top inclusive time:",
    ...top(times.inclusive, scale),
  ];
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "podkit-s3-profile-"));
  const root = join(scratch, "root");
  mkdirSync(join(root, "vol-bench", "small"), { recursive: true });
  const keys = Array.from({ length: COUNT }, (_, i) => `small/o${i}`);
  try {
    for (const op of ["PUT", "GET", "HEAD"] as const) {
      for (const line of await profileOne(root, join(scratch, "prof"), op, keys)) console.log(line);
    }
  } finally {
    closeClient();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
