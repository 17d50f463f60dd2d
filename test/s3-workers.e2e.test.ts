import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aws, boto3Async, clientEnv, PODKIT, type RunningGateway, startGateway } from "./s3/gateway.js";

// `podkit s3 serve --workers 2`: a worker killed mid-upload is replaced without touching the
// clients of the other one; and two gateway processes over one --root share multipart uploads.
const MiB = 1024 * 1024;
let root: string;
let work: string;
const gateways: RunningGateway[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "podkit-s3-workers-root-"));
  work = mkdtempSync(join(tmpdir(), "podkit-s3-workers-work-"));
  mkdirSync(join(root, "vol-w"));
});
afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const tmpDir = () => join(root, "vol-w", ".s3compat_uploads", "tmp");
const temporaries = () => (existsSync(tmpDir()) ? readdirSync(tmpDir()) : []);
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const workerPids = (gw: RunningGateway) =>
  readFileSync(`/proc/${gw.proc.pid}/task/${gw.proc.pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
/** The worker that logged a request for `key` (each access-log line carries its process id). */
const servedBy = (gw: RunningGateway, key: string) =>
  gw
    .log()
    .split("\n")
    .filter((line) => line.includes(`"key":"${key}"`))
    .map((line) => (JSON.parse(line) as { pid: number }).pid)[0];

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  for (const deadline = Date.now() + ms; !check(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Start `aws s3api put-object` of a big file; resolves once the gateway has written 16 MiB of it. */
async function bigPutUnderway(
  env: NodeJS.ProcessEnv,
  key: string,
  file: string,
): Promise<Promise<number | null>> {
  const args = ["s3api", "put-object", "--bucket", "vol-w", "--key", key, "--body", join(work, file)];
  const put = spawn("/usr/bin/aws", ["--endpoint-url", env.ENDPOINT!, ...args], { env, stdio: "ignore" });
  const exit = new Promise<number | null>((resolve) => put.once("exit", (code) => resolve(code)));
  await until("the upload's temporary", () =>
    temporaries().some((name) => statSync(join(tmpDir(), name)).size > 16 * MiB),
  );
  return { exit }; // wrapped: an async function returning a promise would wait for it
}

// Six boto3 clients with one keep-alive connection each; each first HEADs its own probe key
// (so the access log says which worker holds its connection), then GETs a small object over
// and over until told to stop, counting answers and failures per client.
const LOOP = `
import boto3, json, os, time
from botocore.config import Config
stop = os.environ["STOP_FILE"]
clients = [boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    config=Config(max_pool_connections=1, retries={"max_attempts": 1})) for _ in range(6)]
for i, c in enumerate(clients):
    try: c.head_object(Bucket="vol-w", Key=f"probe-{i}")
    except Exception: pass
open(os.environ["READY_FILE"], "w").close()
counts = [{"ok": 0, "fail": 0} for _ in clients]
while not os.path.exists(stop):
    for i, c in enumerate(clients):
        try:
            assert c.get_object(Bucket="vol-w", Key="small.txt")["Body"].read() == b"small"
            counts[i]["ok"] += 1
        except Exception:
            counts[i]["fail"] += 1
    time.sleep(0.01)
print(json.dumps(counts))
`;

describe("podkit s3 serve --workers 2", () => {
  it("the supervisor does not load the gateway: only its workers map the xattr addon", async () => {
    const gw = await startGateway(root, [], 2);
    gateways.push(gw);
    const maps = (pid: number) => readFileSync(`/proc/${pid}/maps`, "utf8");
    // The metadata store's native addon comes with the gateway's backend: a supervisor that
    // loaded the whole gateway (tens of MB beside every worker) would map it too.
    const addon = /xattr[^/\n]*\.node$/m;
    for (const pid of workerPids(gw)) expect(maps(pid)).toMatch(addon);
    expect(maps(gw.proc.pid!)).not.toMatch(addon);
  });

  it("workers start with a 2 MiB young generation and two malloc arenas (memory per worker), the supervisor's own flags kept", async () => {
    const gw = await startGateway(root, [], 2);
    gateways.push(gw);
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    expect(cmdline(gw.proc.pid!)).not.toContain("--max-semi-space-size=2");
    for (const pid of workerPids(gw)) {
      expect(cmdline(pid)).toContain("--max-semi-space-size=2");
      expect(environ(pid)).toContain("MALLOC_ARENA_MAX=2");
    }
  });

  it("a worker killed with SIGKILL during a large PUT is replaced; the other worker's clients never notice; nothing torn or left behind", async () => {
    const gw = await startGateway(root, [], 2);
    gateways.push(gw);
    const env = clientEnv(gw);
    const workersBefore = workerPids(gw);
    expect(workersBefore).toHaveLength(2);
    const old = Buffer.alloc(3 * MiB, 7);
    writeFileSync(join(work, "old.bin"), old);
    writeFileSync(join(work, "small.txt"), "small");
    for (const [file, key] of [
      ["old.bin", "obj.bin"],
      ["small.txt", "small.txt"],
    ] as const)
      expect(
        aws(env, "s3api", "put-object", "--bucket", "vol-w", "--key", key, "--body", join(work, file)).code,
      ).toBe(0);

    const ready = join(work, "ready");
    const stop = join(work, "stop");
    const loop = boto3Async({ ...env, READY_FILE: ready, STOP_FILE: stop }, LOOP);
    await until("the boto3 clients", () => existsSync(ready));

    writeFileSync(join(work, "new.bin"), Buffer.alloc(300 * MiB, 9));
    const { exit: putExit } = await bigPutUnderway(env, "obj.bin", "new.bin");
    // The temporary is named <host>-<pid>-…: that pid is the worker receiving the upload.
    const victim = Number(/-(\d+)-[0-9a-f]+$/.exec(temporaries()[0]!)![1]);
    expect(workersBefore).toContain(victim);
    process.kill(victim, "SIGKILL");
    expect(await putExit).not.toBe(0); // the upload in flight failed

    await until("a replacement worker", () => {
      const now = workerPids(gw);
      return now.length === 2 && !now.includes(victim);
    });
    await until("the killed worker's temporary to be removed", () => temporaries().length === 0);
    writeFileSync(stop, "");
    const counts = JSON.parse((await loop).stdout) as Array<{ ok: number; fail: number }>;

    const survivors = counts.filter((_, i) => servedBy(gw, `probe-${i}`) !== victim);
    expect(survivors.length).toBeGreaterThan(0);
    for (const c of survivors) expect(c).toEqual({ ok: c.ok, fail: 0 });
    for (const c of survivors) expect(c.ok).toBeGreaterThan(0);
    expect(gw.log()).toContain("s3 gateway worker died; starting another");

    // the key still holds the whole old object; the gateway still serves
    expect(aws(env, "s3", "cp", "--only-show-errors", "s3://vol-w/obj.bin", join(work, "got.bin")).code).toBe(
      0,
    );
    expect(sha(readFileSync(join(work, "got.bin")))).toBe(sha(old));
    rmSync(join(work, "new.bin"));
  }, 300_000);
});

describe("podkit s3 serve --workers: one address, one metrics endpoint, one drain", () => {
  it("spreads connections over the workers, sums their metrics on one endpoint, and drains an upload on SIGTERM", async () => {
    const gw = await startGateway(root, ["--metrics-listen", "127.0.0.1:0", "--drain-timeout", "120"], 2);
    const env = clientEnv(gw);
    writeFileSync(join(work, "m.txt"), "metrics");
    for (let i = 0; i < 8; i++)
      expect(
        aws(env, "s3api", "put-object", "--bucket", "vol-w", "--key", `m-${i}`, "--body", join(work, "m.txt"))
          .code,
      ).toBe(0);
    // every aws run is a new connection: both workers answered some, all in one access log
    const servers = () => Array.from({ length: 8 }, (_, i) => servedBy(gw, `m-${i}`));
    await until("the access log", () => servers().every((pid) => pid !== undefined));
    const pids = new Set(servers());
    expect(pids.size).toBe(2);
    const metricsUrl = (JSON.parse(gw.stdout()) as { metricsUrl: string }).metricsUrl;
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/podkit_s3_requests_total\{op="PutObject",status="200"\} 8\n/);

    // SIGTERM while a big upload is in flight: the supervisor waits for it, then exits 0.
    writeFileSync(join(work, "drain.bin"), Buffer.alloc(300 * MiB, 5));
    const { exit: putExit } = await bigPutUnderway(env, "drained.bin", "drain.bin");
    await gw.stop(); // SIGTERM; throws unless the gateway exits 0
    expect(await putExit).toBe(0);
    expect(statSync(join(root, "vol-w", "drained.bin")).size).toBe(300 * MiB);
    expect(temporaries()).toEqual([]);
    rmSync(join(work, "drain.bin"));
  }, 300_000);

  it("runs as many workers as the CPUs it may use when --workers is not given", async () => {
    const gw = await startGateway(root, [], "default");
    gateways.push(gw);
    const cpus = availableParallelism();
    expect(workerPids(gw)).toHaveLength(cpus > 1 ? cpus : 0);
  });

  it("refuses a --workers that is not a whole number from 1", () => {
    for (const bad of ["0", "-1", "two", "1.5"]) {
      const r = spawnSync(process.execPath, [PODKIT, "s3", "serve", "--root", root, "--workers", bad], {
        env: { PATH: process.env.PATH, PODKIT_S3_ACCESS_KEY: "abc", PODKIT_S3_SECRET_KEY: "secret-123" },
        encoding: "utf8",
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("--workers must be a whole number");
    }
  });
});

describe("two gateway processes on one --root", () => {
  it("a multipart upload whose parts go to both completes through either, and a retried Complete answers the same ETag", async () => {
    const [a, b] = await Promise.all([startGateway(root, [], 2), startGateway(root)]);
    gateways.push(a!, b!);
    const script = `
import boto3, hashlib, json, os
from botocore.config import Config
cfg = Config(retries={"max_attempts": 1})
a = boto3.client("s3", endpoint_url=os.environ["A"], region_name="us-east-1", config=cfg)
b = boto3.client("s3", endpoint_url=os.environ["B"], region_name="us-east-1", config=cfg)
out = {}
for name, completer, other in (("via-a", a, b), ("via-b", b, a)):
    key = f"mp-{name}.bin"
    up = a.create_multipart_upload(Bucket="vol-w", Key=key)["UploadId"]
    parts, data = [], b""
    for n, client in enumerate((a, b, a, b), start=1):
        body = bytes([n]) * (5 * 1024 * 1024 if n < 4 else 1234)
        data += body
        etag = client.upload_part(Bucket="vol-w", Key=key, UploadId=up, PartNumber=n, Body=body)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    listed = [p["PartNumber"] for p in other.list_parts(Bucket="vol-w", Key=key, UploadId=up)["Parts"]]
    done = completer.complete_multipart_upload(Bucket="vol-w", Key=key, UploadId=up, MultipartUpload={"Parts": parts})
    again = other.complete_multipart_upload(Bucket="vol-w", Key=key, UploadId=up, MultipartUpload={"Parts": parts})
    got = other.get_object(Bucket="vol-w", Key=key)
    out[name] = {"listed": listed, "etag": done["ETag"], "retried": again["ETag"], "head": got["ETag"],
                 "same": hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(data).hexdigest()}
print(json.dumps(out))
`;
    const r = await boto3Async({ ...clientEnv(a!), A: a!.endpoint, B: b!.endpoint }, script);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<
      string,
      { listed: number[]; etag: string; retried: string; head: string; same: boolean }
    >;
    for (const name of ["via-a", "via-b"]) {
      const o = out[name]!;
      expect(o.listed).toEqual([1, 2, 3, 4]);
      expect(o.etag).toMatch(/^"[0-9a-f]{32}-4"$/);
      expect(o.retried).toBe(o.etag);
      expect(o.head).toBe(o.etag);
      expect(o.same).toBe(true);
    }
  }, 300_000);
});

describe("lazy ETags of files made from a Pod", () => {
  it("a big file's MD5 is computed by one gateway process and read by the others from the volume", async () => {
    const [a, b] = await Promise.all([startGateway(root), startGateway(root)]);
    gateways.push(a!, b!);
    const data = Buffer.alloc(160 * MiB);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    writeFileSync(join(root, "vol-w", "from-pod.bin"), data); // written behind the gateways' back
    const md5 = `"${createHash("md5").update(data).digest("hex")}"`;
    // CPU seconds a process has used (all threads: the hashing happens on libuv's pool).
    const cpu = (gw: RunningGateway) => {
      const fields = readFileSync(`/proc/${gw.proc.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    const before = [cpu(a!), cpu(b!)];
    const script = `
import boto3, json, os, time
a = boto3.client("s3", endpoint_url=os.environ["A"], region_name="us-east-1")
b = boto3.client("s3", endpoint_url=os.environ["B"], region_name="us-east-1")
first = [c.head_object(Bucket="vol-w", Key="from-pod.bin")["ETag"] for c in (a, b)]
deadline = time.time() + 120
while True:
    last = [c.head_object(Bucket="vol-w", Key="from-pod.bin")["ETag"] for c in (a, b)]
    if all(not e.endswith('-1"') for e in last) or time.time() > deadline: break
    time.sleep(0.2)
print(json.dumps({"first": first, "last": last}))
`;
    const r = await boto3Async({ ...clientEnv(a!), A: a!.endpoint, B: b!.endpoint }, script);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { first: string[]; last: string[] };
    // both answered the same placeholder at first, then the real MD5
    expect(out.first[0]).toMatch(/^"[0-9a-f]{32}-1"$/);
    expect(out.first[1]).toBe(out.first[0]);
    expect(out.last).toEqual([md5, md5]);
    const used = [cpu(a!) - before[0]!, cpu(b!) - before[1]!];
    // Hashing 160 MiB costs a fraction of a CPU second; the process that did not hash used far less.
    expect(Math.max(...used)).toBeGreaterThan(0.1);
    expect(Math.min(...used)).toBeLessThan(Math.max(...used) / 2);
  }, 300_000);
});
