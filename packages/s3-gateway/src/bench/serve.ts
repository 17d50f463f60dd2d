// Runs one gateway in its own process for the benchmark, so its memory can be measured alone;
// with a workers argument above 1, a supervisor and that many worker processes (node:cluster).
import cluster from "node:cluster";
import { runS3Worker, startS3Cluster } from "../http/cluster.js";
import { type S3GatewayOptions, startS3Gateway } from "../http/server.js";

const [root, accessKeyId, secretAccessKey, workersArg] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);
const options: S3GatewayOptions = {
  root: root!,
  listen: "127.0.0.1:0",
  credentials: [{ accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey!, volumes: ["*"] }],
  accessLog: false,
};
if (cluster.isWorker) await runS3Worker(options);
const gateway = workers > 1 ? await startS3Cluster({ ...options, workers }) : await startS3Gateway(options);
process.stdout.write(`${JSON.stringify({ endpoint: gateway.endpoint })}\n`);
process.on("SIGTERM", () => {
  void gateway.close().then(() => process.exit(0));
});
