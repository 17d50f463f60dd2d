// The MD5 thread (started by md5-offload.ts): one hash per upload id, fed 1 MiB slabs that go
// straight back to the sender for reuse.
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/** To the worker: a slab of `n` bytes to hash ("u"), the end of an upload ("e"), or its abandonment ("x"). */
export type Md5Request =
  | { t: "u"; id: number; n: number; b: ArrayBuffer }
  | { t: "e"; id: number }
  | { t: "x"; id: number };

/** From the worker: a slab hashed and handed back ("a"), or an upload's digest ("d"). */
export type Md5Reply =
  | { t: "a"; id: number; n: number; b: ArrayBuffer }
  | { t: "d"; id: number; hex: string };

const port = parentPort;
if (!port) throw new Error("md5-worker.js runs as a worker thread (see md5-offload.ts)");
const reply = (m: Md5Reply, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const hashes = new Map<number, Hash>();

port.on("message", (m: Md5Request) => {
  if (m.t === "u") {
    let hash = hashes.get(m.id);
    if (!hash) {
      hash = createHash("md5");
      hashes.set(m.id, hash);
    }
    hash.update(new Uint8Array(m.b, 0, m.n));
    reply({ t: "a", id: m.id, n: m.n, b: m.b }, [m.b]);
  } else if (m.t === "e") {
    const hash = hashes.get(m.id) ?? createHash("md5");
    hashes.delete(m.id);
    reply({ t: "d", id: m.id, hex: hash.digest("hex") });
  } else {
    hashes.delete(m.id);
  }
});
