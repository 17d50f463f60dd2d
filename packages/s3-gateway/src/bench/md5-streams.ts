// MD5 of several streams at once, one worker thread each, nothing else running: how fast this
// machine's CPUs can hash concurrent uploads at all. Every PUT must hash every byte (the ETag), so
// no gateway's aggregate upload rate passes this figure here.
import { Worker } from "node:worker_threads";

const HASHER = `
const { createHash, randomBytes } = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");
const block = randomBytes(1 << 20);
parentPort.postMessage("ready");
parentPort.once("message", () => {
  const hash = createHash("md5");
  for (let off = 0; off < workerData.bytes; off += block.length) hash.update(block);
  hash.digest();
  parentPort.postMessage("done");
});
`;

/** Seconds and process CPU-seconds for `streams` threads to hash `bytes` each, started together. */
export async function hashStreamsAtOnce(
  streams: number,
  bytes: number,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const workers = Array.from(
    { length: streams },
    () => new Worker(HASHER, { eval: true, workerData: { bytes } }),
  );
  try {
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once("message", resolve))));
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once("message", () => resolve());
            w.once("error", reject);
            w.postMessage("go");
          }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
