// The MD5 thread (started by md5-offload.ts): one hash per upload id, fed 1 MiB slabs of shared
// memory (body-slabs.ts) that the main thread also writes to the file; each is acknowledged once
// hashed, so the main thread can reuse it.
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/**
 * To the worker: the first `n` bytes of a slab to hash ("u", `seq` names it in the reply), the end
 * of an upload ("e"), or its abandonment ("x").
 */
export type Md5Request =
  | { t: "u"; id: number; seq: number; n: number; b: SharedArrayBuffer }
  | { t: "e"; id: number }
  | { t: "x"; id: number };

/** From the worker: a slab hashed ("a"), or an upload's digest ("d"). */
export type Md5Reply = { t: "a"; id: number; seq: number } | { t: "d"; id: number; hex: string };

const port = parentPort;
if (!port) throw new Error("md5-worker.js runs as a worker thread (see md5-offload.ts)");
const reply = (m: Md5Reply) => port.postMessage(m);
const hashes = new Map<number, Hash>();

port.on("message", (m: Md5Request) => {
  if (m.t === "u") {
    let hash = hashes.get(m.id);
    if (!hash) {
      hash = createHash("md5");
      hashes.set(m.id, hash);
    }
    hash.update(new Uint8Array(m.b, 0, m.n));
    reply({ t: "a", id: m.id, seq: m.seq });
  } else if (m.t === "e") {
    const hash = hashes.get(m.id) ?? createHash("md5");
    hashes.delete(m.id);
    reply({ t: "d", id: m.id, hex: hash.digest("hex") });
  } else {
    hashes.delete(m.id);
  }
});
