// Start-up of the podkit command against `node -e 0`, measured in the same run: median wall time
// of RUNS runs (interleaved, so load changes hit every command alike) and the highest peak RSS
// (GNU time's %M). Forms: the bundle run by node (what the npm package installs), the workspace
// build (apps/cli/dist/main.js), and the single executable when `pnpm package` has built it.
//
//   pnpm --filter @podkit/cli bench            RUNS=15 to average out a busy machine
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const release = resolve(cliDir, "../../dist/release");
const RUNS = Number(process.env.RUNS ?? 7);
const TIME = "/usr/bin/time";
if (!existsSync(TIME)) throw new Error("needs GNU time (/usr/bin/time, Debian package time)");

const sea = existsSync(release)
  ? readdirSync(release).find((f) => /^podkit-.*-linux-x64$/.test(f))
  : undefined;
const forms = [
  ["bundle (npm package)", [process.execPath, join(cliDir, "dist/bundle/podkit.cjs")]],
  ["workspace build", [process.execPath, join(cliDir, "dist/main.js")]],
  ...(sea ? [["single executable", [join(release, sea)]]] : []),
];
const COMMANDS = [["--version"], ["send", "--help"], ["hosts", "list", "--help"], ["s3", "serve", "--help"]];
const TARGETS = { "--version": [1.3, 60 * 1024], default: [2, Number.POSITIVE_INFINITY] };

// An empty cache directory per run of this script: the first run of each form fills its code cache.
const cache = mkdtempSync(join(tmpdir(), "podkit-bench-"));
const env = { ...process.env, XDG_CACHE_HOME: cache };

function once(argv) {
  const start = process.hrtime.bigint();
  const r = spawnSync(TIME, ["-f", "%M", ...argv], { env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  return { ms, kb: Number(r.stderr.trim().split("\n").pop()) };
}

const baseline = [process.execPath, "-e", "0"];
const cases = [["node -e 0", baseline]];
for (const [form, argv] of forms) {
  for (const cmd of COMMANDS) cases.push([`${form}: podkit ${cmd.join(" ")}`, [...argv, ...cmd], cmd]);
}
for (const [, argv] of cases) once(argv); // warm-up: page cache, code caches
const samples = cases.map(() => []);
for (let i = 0; i < RUNS; i++) {
  cases.forEach(([, argv], j) => {
    samples[j].push(once(argv));
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(samples[0].map((s) => s.ms));
console.log(
  `start-up, median of ${RUNS} (load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")})`,
);
let failed = false;
cases.forEach(([name, , cmd], j) => {
  const ms = median(samples[j].map((s) => s.ms));
  const rss = Math.max(...samples[j].map((s) => s.kb));
  const [maxRatio, maxKb] = cmd ? (TARGETS[cmd[0]] ?? TARGETS.default) : [];
  const ok = !cmd || (ms / base <= maxRatio && rss <= maxKb);
  if (!ok && !name.startsWith("workspace")) failed = true;
  const target = cmd
    ? `  target ≤ ${maxRatio}×${Number.isFinite(maxKb) ? `, ≤ ${maxKb / 1024} MB` : ""}${ok ? "" : "  MISSED"}`
    : "";
  console.log(
    `${name.padEnd(52)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / base).toFixed(2)}×  peak RSS ${(rss / 1024).toFixed(0)} MB${target}`,
  );
});
rmSync(cache, { recursive: true, force: true });
if (failed)
  console.log(
    "(the workspace build is listed for comparison; targets apply to the bundle and the executable)",
  );
