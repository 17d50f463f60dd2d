import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir, waitFor } from "./helpers.js";

/** A real Prometheus (Debian package) scraping the given targets every second, on loopback. */
export async function startPrometheus(targets: string[]) {
  const dir = tempDir("prom");
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: podkit-agent
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(", ")}]
        labels:
          machine_id: test-machine-1
`,
  );
  const check = spawnSync("promtool", ["check", "config", config], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`promtool check config: ${check.stdout}${check.stderr}`);
  const proc: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      "--storage.tsdb.retention.time=1h",
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  const query = async (q: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    return body.data.result;
  };
  await waitFor("prometheus ready", async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
  await waitFor(
    "all targets scraped and up",
    async () => {
      const r = await query("sum(up)");
      return Number(r[0]?.value[1] ?? 0) === targets.length;
    },
    30_000,
  );
  return {
    url,
    query,
    close: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    },
  };
}
