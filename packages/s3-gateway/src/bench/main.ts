/**
 * The gateway against baselines on the same machine, in one run (figures are ratios):
 *   GET of a big object vs nginx serving the same file over loopback (same Node client);
 *   PUT of a big object vs a raw sequential write (+fsync) of the same size;
 *   4 KiB objects: PUT, GET and HEAD ops/s next to nginx's GET ops/s;
 *   ListObjectsV2 over many keys in pages of 1,000 (cold: MD5s computed; warm: cached);
 *   peak RSS of the gateway process during a big upload.
 * Defaults are small (< 3 min); BENCH_OBJECT_MIB=1024 BENCH_LIST_KEYS=100000 BENCH_RSS_MIB=5120
 * give the sizes. BENCH_RUNS (default 3) repeats throughput runs; medians are printed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { Agent, request } from "node:http";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { startNginx } from "./nginx.js";

const MiB = 1024 * 1024;
const OBJECT_MIB = Number(process.env.BENCH_OBJECT_MIB ?? 256);
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 1000);
const LIST_KEYS = Number(process.env.BENCH_LIST_KEYS ?? 20_000);
const RSS_MIB = Number(process.env.BENCH_RSS_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONCURRENCY = 16;
const KEY = "bench-access";
const SECRET = "bench-secret-0123456789";

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const chunk = randomBytes(MiB);

function httpGet(url: string, method = "GET"): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${method} ${url}: ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

function httpPut(url: string, size: number, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", agent, headers: { "content-length": String(size) } }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${url}: ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    if (body) {
      req.end(body);
      return;
    }
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(MiB, size - sent);
        sent += n;
        if (!req.write(n === MiB ? chunk : chunk.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function pool<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function memory(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
}

/** One gateway in its own process (its memory measured alone). */
async function startServe(root: string, workers = 1): Promise<{ proc: ChildProcess; endpoint: string }> {
  const serveJs = new URL("./serve.js", import.meta.url).pathname;
  const proc = spawn(process.execPath, [serveJs, root, KEY, SECRET, String(workers)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const endpoint = await new Promise<string>((resolve) => {
    proc.stdout!.once("data", (c) => resolve((JSON.parse(String(c)) as { endpoint: string }).endpoint));
  });
  return { proc, endpoint };
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "podkit-s3-bench-"));
  const root = join(scratch, "root");
  const vol = join(root, "vol-bench");
  mkdirSync(join(vol, "small"), { recursive: true });
  mkdirSync(join(vol, "list"), { recursive: true });
  const { proc: serve, endpoint } = await startServe(root);
  const nginx = await startNginx(root, scratch);
  const sink = spawn(process.execPath, [new URL("./sink.js", import.meta.url).pathname], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const sinkUrl = await new Promise<string>((resolve) => {
    sink.stdout!.once("data", (c) => resolve((JSON.parse(String(c)) as { endpoint: string }).endpoint));
  });
  const s3 = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
  });
  const presign = (cmd: GetObjectCommand | PutObjectCommand | HeadObjectCommand) =>
    getSignedUrl(s3, cmd, { expiresIn: 3600 });
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  try {
    const size = OBJECT_MIB * MiB;
    say(
      `# @podkit/s3-gateway benchmark (${OBJECT_MIB} MiB objects, ${RUNS} runs, medians; ${cpus().length} CPUs, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")})`,
    );
    // PUT vs raw sequential write + fsync
    const putUrl = await presign(new PutObjectCommand({ Bucket: "vol-bench", Key: "big.bin" }));
    const rawTimes: number[] = [];
    const putTimes: number[] = [];
    const sinkTimes: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      rawTimes.push(
        await timed(async () => {
          const fh = await open(join(scratch, "raw.bin"), "w");
          for (let off = 0; off < size; off += MiB) await fh.write(chunk);
          await fh.sync();
          await fh.close();
        }),
      );
      rmSync(join(scratch, "raw.bin"));
      putTimes.push(await timed(() => httpPut(putUrl, size)));
      sinkTimes.push(await timed(() => httpPut(`${sinkUrl}/discard`, size)));
    }
    const rawMBs = size / MiB / median(rawTimes);
    // Every PUT computes the MD5 ETag inline: a single MD5 stream is a ceiling of its own.
    const md5Time = await timed(async () => {
      const hash = createHash("md5");
      for (let off = 0; off < size; off += MiB) hash.update(chunk);
      hash.digest();
    });
    const putMBs = size / MiB / median(putTimes);
    const sinkMBs = size / MiB / median(sinkTimes);
    say(
      `PUT ${OBJECT_MIB} MiB: gateway ${putMBs.toFixed(0)} MiB/s, raw write+fsync ${rawMBs.toFixed(0)} MiB/s, ratio ${(putMBs / rawMBs).toFixed(2)}; a bare Node server discarding the body ${sinkMBs.toFixed(0)} MiB/s (gateway/bare ${(putMBs / sinkMBs).toFixed(2)}); MD5 alone ${(size / MiB / md5Time).toFixed(0)} MiB/s`,
    );
    // GET vs nginx, same file, same client
    const getUrl = await presign(new GetObjectCommand({ Bucket: "vol-bench", Key: "big.bin" }));
    const gwGet: number[] = [];
    const ngGet: number[] = [];
    await httpGet(getUrl); // warm the page cache for both
    for (let r = 0; r < RUNS; r++) {
      ngGet.push(await timed(() => httpGet(`${nginx.url}/vol-bench/big.bin`)));
      gwGet.push(await timed(() => httpGet(getUrl)));
    }
    const gwMBs = size / MiB / median(gwGet);
    const ngMBs = size / MiB / median(ngGet);
    say(
      `GET ${OBJECT_MIB} MiB: gateway ${gwMBs.toFixed(0)} MiB/s, nginx ${ngMBs.toFixed(0)} MiB/s, ratio ${(gwMBs / ngMBs).toFixed(2)}`,
    );
    rmSync(join(vol, "big.bin"));
    // 4 KiB objects
    const small = randomBytes(4096);
    const keys = Array.from({ length: SMALL_COUNT }, (_, i) => `small/o${i}`);
    const putUrls = await Promise.all(
      keys.map((k) => presign(new PutObjectCommand({ Bucket: "vol-bench", Key: k }))),
    );
    const getUrls = await Promise.all(
      keys.map((k) => presign(new GetObjectCommand({ Bucket: "vol-bench", Key: k }))),
    );
    const headUrls = await Promise.all(
      keys.map((k) => presign(new HeadObjectCommand({ Bucket: "vol-bench", Key: k }))),
    );
    const ops = (t: number) => (SMALL_COUNT / t).toFixed(0);
    const tPut = await timed(() => pool(putUrls, (u) => httpPut(u, 4096, small)));
    const tGet = await timed(() => pool(getUrls, (u) => httpGet(u)));
    const tHead = await timed(() => pool(headUrls, (u) => httpGet(u, "HEAD")));
    const tNginx = await timed(() => pool(keys, (k) => httpGet(`${nginx.url}/vol-bench/${k}`)));
    say(
      `4 KiB objects (${SMALL_COUNT}, ${CONCURRENCY} concurrent): PUT ${ops(tPut)} ops/s, GET ${ops(tGet)} ops/s, HEAD ${ops(tHead)} ops/s; nginx GET ${ops(tNginx)} ops/s (gateway GET ratio ${(tNginx / tGet).toFixed(2)})`,
    );
    // The same with as many gateway workers and nginx worker processes as the CPUs this process may
    // use, beside the single-process figures just measured (same run, same objects).
    const workers = availableParallelism();
    if (workers > 1) {
      const multi = await startServe(root, workers);
      const multiNginx = await startNginx(root, scratch, workers);
      try {
        const multiClient = new S3Client({
          endpoint: multi.endpoint,
          region: "us-east-1",
          forcePathStyle: true,
          credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
        });
        const urls = (make: (k: string) => PutObjectCommand | GetObjectCommand | HeadObjectCommand) =>
          Promise.all(keys.map((k) => getSignedUrl(multiClient, make(k), { expiresIn: 3600 })));
        const mPut = await urls((k) => new PutObjectCommand({ Bucket: "vol-bench", Key: k }));
        const mGet = await urls((k) => new GetObjectCommand({ Bucket: "vol-bench", Key: k }));
        const mHead = await urls((k) => new HeadObjectCommand({ Bucket: "vol-bench", Key: k }));
        const tmPut = await timed(() => pool(mPut, (u) => httpPut(u, 4096, small)));
        const tmGet = await timed(() => pool(mGet, (u) => httpGet(u)));
        const tmHead = await timed(() => pool(mHead, (u) => httpGet(u, "HEAD")));
        const tmNginx = await timed(() => pool(keys, (k) => httpGet(`${multiNginx.url}/vol-bench/${k}`)));
        multiClient.destroy();
        say(
          `4 KiB objects, ${workers} workers (nginx ${workers} worker processes): PUT ${ops(tmPut)} ops/s (${(tPut / tmPut).toFixed(2)}x 1 worker), GET ${ops(tmGet)} ops/s (${(tGet / tmGet).toFixed(2)}x), HEAD ${ops(tmHead)} ops/s (${(tHead / tmHead).toFixed(2)}x); nginx GET ${ops(tmNginx)} ops/s (gateway GET ratio ${(tmNginx / tmGet).toFixed(2)})`,
        );
      } finally {
        await multiNginx.stop();
        multi.proc.kill("SIGTERM");
      }
    }
    // ListObjectsV2 over many keys written "from a Pod" (no cached MD5 yet)
    for (let i = 0; i < LIST_KEYS; i++)
      writeFileSync(join(vol, "list", `k${String(i).padStart(7, "0")}`), "x");
    for (const pass of ["cold (MD5s computed)", "warm (MD5s cached)"]) {
      let count = 0;
      let pages = 0;
      const t = await timed(async () => {
        for await (const page of paginateListObjectsV2(
          { client: s3, pageSize: 1000 },
          { Bucket: "vol-bench", Prefix: "list/" },
        )) {
          count += page.KeyCount ?? 0;
          pages += 1;
        }
      });
      if (count !== LIST_KEYS) throw new Error(`listed ${count} of ${LIST_KEYS} keys`);
      say(`ListObjectsV2 ${LIST_KEYS} keys, pages of 1000 (${pages} pages), ${pass}: ${t.toFixed(2)} s`);
    }
    // Peak RSS during a big upload: in the gateway that served everything above, then in a fresh one.
    const rssDuring = async (pid: number, client: S3Client, when: string) => {
      const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: "vol-bench", Key: "rss.bin" }), {
        expiresIn: 3600,
      });
      const before = memory(pid, "VmRSS");
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, memory(pid, "VmRSS"));
      }, 50);
      const t = await timed(() => httpPut(url, RSS_MIB * MiB));
      clearInterval(sampler);
      say(
        `Peak RSS of the gateway during a ${RSS_MIB} MiB upload, ${when} (${(RSS_MIB / t).toFixed(0)} MiB/s): ${(peak / MiB).toFixed(0)} MiB (${(peak / 1e6).toFixed(0)} MB), ${(before / MiB).toFixed(0)} MiB before it; high-water mark of that process ${(memory(pid, "VmHWM") / MiB).toFixed(0)} MiB`,
      );
    };
    await rssDuring(serve.pid!, s3, "after the runs above");
    const fresh = await startServe(root);
    const freshClient = new S3Client({
      endpoint: fresh.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
    });
    try {
      await rssDuring(fresh.proc.pid!, freshClient, "freshly started gateway");
    } finally {
      freshClient.destroy();
      fresh.proc.kill("SIGTERM");
    }
  } finally {
    s3.destroy();
    agent.destroy();
    await nginx.stop();
    serve.kill("SIGTERM");
    sink.kill("SIGTERM");
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
