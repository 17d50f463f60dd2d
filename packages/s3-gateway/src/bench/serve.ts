// Runs one gateway in its own process for the benchmark, so its memory can be measured alone;
// with a workers argument above 1, a supervisor and that many worker processes (node:cluster).
// With BENCH_CPU_PROFILE=<file>, SIGUSR2 starts V8's CPU profiler (the one `node --cpu-prof`
// uses) and the next SIGUSR2 writes the profile there: a window without start-up and warm-up.
import cluster from "node:cluster";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import type { S3GatewayOptions } from "../http/server.js";
import { runS3Worker, startS3Cluster } from "../supervisor.js";

const [root, accessKeyId, secretAccessKey, workersArg] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);
const options: S3GatewayOptions = {
  root: root!,
  listen: "127.0.0.1:0",
  credentials: [{ accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey!, volumes: ["*"] }],
  accessLog: false,
};
if (cluster.isWorker) await runS3Worker(options);
// A supervisor loads only what it needs, as `podkit s3 serve --workers N` does.
const gateway =
  workers > 1
    ? await startS3Cluster({ ...options, workers })
    : await (await import("../http/server.js")).startS3Gateway(options);
const profileFile = process.env.BENCH_CPU_PROFILE;
if (profileFile) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  let running = false;
  process.on("SIGUSR2", () => {
    running = !running;
    const step = running
      ? session.post("Profiler.start").then(() => process.stdout.write("profiling\n"))
      : session.post("Profiler.stop").then(({ profile }) => {
          writeFileSync(profileFile, JSON.stringify(profile));
          process.stdout.write("profiled\n");
        });
    void step;
  });
}
process.stdout.write(`${JSON.stringify({ endpoint: gateway.endpoint })}\n`);
process.on("SIGTERM", () => {
  void gateway.close().then(() => process.exit(0));
});
