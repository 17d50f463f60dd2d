import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boto3Async, clientEnv, type RunningGateway, startGateway, WORKER_COUNTS } from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // Two `podkit s3 serve` processes over one --root: a conditional write is atomic across them
  // (the lock is on the volume, not in a process).
  let root: string;
  let a: RunningGateway;
  let b: RunningGateway;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "podkit-s3-cond-"));
    mkdirSync(join(root, "vol-c"));
    [a, b] = await Promise.all([startGateway(root, [], workers), startGateway(root, [], workers)]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  /** boto3 from Debian predates IfNoneMatch/IfMatch parameters: the headers are added before signing. */
  const SCRIPT = (mode: "create" | "replace") => `
import boto3, os, sys, threading, json
from botocore.config import Config
ends = [os.environ["ENDPOINT_A"], os.environ["ENDPOINT_B"]]
results = {}
def client(ep, header, value):
    s3 = boto3.client("s3", endpoint_url=ep, config=Config(retries={"max_attempts": 1}))
    def add(request, **kw):
        request.headers[header] = value
    s3.meta.events.register("before-sign.s3.PutObject", add)
    return s3
def make(i):
    if "${mode}" == "create":
        return client(ends[i % 2], "If-None-Match", "*")
    return client(ends[i % 2], "If-Match", os.environ["ETAG"])
# Clients are made one after another: creating them is not thread-safe in botocore.
clients = [make(i) for i in range(16)]
def put(i):
    s3 = clients[i]
    try:
        s3.put_object(Bucket="vol-c", Key="${mode}/state.json", Body=b"writer %d" % i)
        results[i] = 200
    except s3.exceptions.ClientError as e:
        results[i] = e.response["ResponseMetadata"]["HTTPStatusCode"]
    except Exception as e:
        results[i] = repr(e)
threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(results))
`;

  async function race(mode: "create" | "replace", etag = ""): Promise<Record<string, number>> {
    const env = { ...clientEnv(a), ENDPOINT_A: a.endpoint, ENDPOINT_B: b.endpoint, ETAG: etag };
    const r = await boto3Async(env, SCRIPT(mode));
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Record<string, number>;
  }

  describe("conditional writes through two gateway processes (boto3)", () => {
    it("16 concurrent If-None-Match: * PUTs: exactly one 200, the rest 412, the winner's body stored", async () => {
      const results = await race("create");
      const winners = Object.entries(results).filter(([, s]) => s === 200);
      expect(winners).toHaveLength(1);
      expect(Object.values(results).filter((s) => s === 412)).toHaveLength(15);
      expect(readFileSync(join(root, "vol-c/create/state.json"), "utf8")).toBe(`writer ${winners[0]![0]}`);
    });

    it("16 concurrent If-Match PUTs of the same ETag: exactly one 200, the rest 412 or 409", async () => {
      mkdirSync(join(root, "vol-c/replace"), { recursive: true });
      // The MD5 of "base": the gateway computes it for a file made from a Pod.
      const { writeFileSync } = await import("node:fs");
      writeFileSync(join(root, "vol-c/replace/state.json"), "base");
      const results = await race("replace", '"593616de15330c0fb2d55e55410bf994"');
      const winners = Object.entries(results).filter(([, s]) => s === 200);
      expect(winners).toHaveLength(1);
      expect(Object.values(results).every((s) => s === 200 || s === 412 || s === 409)).toBe(true);
      expect(readFileSync(join(root, "vol-c/replace/state.json"), "utf8")).toBe(`writer ${winners[0]![0]}`);
    });
  });
});
