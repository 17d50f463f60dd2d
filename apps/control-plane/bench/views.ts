/**
 * Fleet-view benchmark: how long the pages and endpoints that look at every host take on a large
 * fleet, while its agents keep reporting. Each is requested one after another; medians and p90s
 * are printed next to `/healthz` (a request that reads nothing) as the baseline.
 *
 *   pnpm --filter @podkit/control-plane bench:views                       # 1,000 hosts
 *   PODKIT_BENCH_HOSTS=5000 PODKIT_BENCH_BACKENDS=sqlite,postgres pnpm --filter @podkit/control-plane bench:views
 */
import { availableParallelism, loadavg } from "node:os";
import { ADMIN, startLoadWorker, startServer } from "./harness.js";

const HOSTS = Number(process.env.PODKIT_BENCH_HOSTS ?? 1000);
const BACKENDS = (process.env.PODKIT_BENCH_BACKENDS ?? "sqlite").split(",");
const REQUESTS = Number(process.env.PODKIT_BENCH_REQUESTS ?? 30);
const WORKERS = Number(process.env.PODKIT_BENCH_WORKERS ?? 2);

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

async function time(url: string): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < REQUESTS; k++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${ADMIN}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

console.error(`fleet-view benchmark: ${HOSTS} hosts reporting every 5 s, ${REQUESTS} requests per path`);
const rows: string[] = [];
for (const backend of BACKENDS) {
  const server = await startServer(backend);
  const workers = Array.from({ length: WORKERS }, startLoadWorker);
  try {
    const share = Math.ceil(HOSTS / WORKERS);
    await Promise.all(
      workers.map((w, k) =>
        w.call("add", {
          url: server.url,
          admin: ADMIN,
          from: k * share,
          to: Math.min(HOSTS, (k + 1) * share),
          baseline: false,
        }),
      ),
    );
    const paths = ["/healthz", "/metrics", "/api/v1/hosts", "/", "/hosts/bench-0", "/api/v1/hosts/bench-0"];
    const medians = new Map<string, number>();
    for (const path of paths) {
      const ms = await time(`${server.url}${path}`);
      medians.set(path, quantile(ms, 0.5));
      const base = medians.get("/healthz")!;
      rows.push(
        `${backend.padEnd(9)} ${String(HOSTS).padStart(6)}  ${path.padEnd(22)} ${quantile(ms, 0.5).toFixed(1).padStart(8)} ${quantile(ms, 0.9).toFixed(1).padStart(8)} ${`${(quantile(ms, 0.5) / base).toFixed(0)}x`.padStart(10)}`,
      );
      console.error(`  ${rows.at(-1)}`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.call("stop").catch(() => {})));
    await Promise.all(workers.map((w) => w.stop()));
    await server.stop();
  }
}
console.log("\nbackend    hosts  path                   p50 ms   p90 ms  p50 vs /healthz");
for (const r of rows) console.log(r);
console.log(
  `(load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")}; one ${availableParallelism()}-core machine shared with other engineers' work; ` +
    "agents, server and database on the same machine)",
);
