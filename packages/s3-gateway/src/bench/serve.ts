// Runs one gateway in its own process for the benchmark, so its memory can be measured alone.
import { startS3Gateway } from "../http/server.js";

const [root, accessKeyId, secretAccessKey] = process.argv.slice(2);
const gateway = await startS3Gateway({
  root: root!,
  listen: "127.0.0.1:0",
  credentials: [{ accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey!, volumes: ["*"] }],
  accessLog: false,
});
process.stdout.write(`${JSON.stringify({ endpoint: gateway.endpoint })}\n`);
process.on("SIGTERM", () => {
  void gateway.close().then(() => process.exit(0));
});
