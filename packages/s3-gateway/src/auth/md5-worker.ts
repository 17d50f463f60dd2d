// The MD5 thread (started by md5-offload.ts): one hash per upload id, fed 1 MiB slabs of shared
// memory (body-slabs.ts) that the main thread also writes to the file; each is acknowledged once
// hashed, so the main thread can reuse it.
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/**
 * To the worker: the first `n` bytes of a slab to hash ("u", `seq` names it in the reply), the end
 * of an upload ("e"), or its abandonment ("x"). A shared slab is read in place; an ordinary one is
 * a copy moved here, and moved back in the reply ("a"), so that no memory is left for this
 * thread's garbage collector, which seldom runs.
 */
export type Md5Request =
  | { t: "u"; id: number; seq: number; n: number; b: SharedArrayBuffer | ArrayBuffer }
  | { t: "e"; id: number }
  | { t: "x"; id: number };

/** From the worker: a slab hashed ("a", with the moved copy), or an upload's digest ("d"). */
export type Md5Reply =
  | { t: "a"; id: number; seq: number; b?: ArrayBuffer }
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
    if (m.b instanceof SharedArrayBuffer) reply({ t: "a", id: m.id, seq: m.seq });
    else reply({ t: "a", id: m.id, seq: m.seq, b: m.b }, [m.b]);
  } else if (m.t === "e") {
    const hash = hashes.get(m.id) ?? createHash("md5");
    hashes.delete(m.id);
    reply({ t: "d", id: m.id, hex: hash.digest("hex") });
  } else {
    hashes.delete(m.id);
  }
});
