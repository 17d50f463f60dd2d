// Preloaded into a benchmarked `podkit` process (node --import): when it exits, writes its own CPU time
// and peak RSS as JSON to the file named by BENCH_REPORT.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const cpu = process.cpuUsage();
  writeFileSync(
    process.env.BENCH_REPORT,
    JSON.stringify({ cpu: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
});
