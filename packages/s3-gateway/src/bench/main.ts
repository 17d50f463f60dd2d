/**
 * The gateway against baselines on the same machine, in one run (figures are ratios), each for a
 * one-process gateway (`--workers 1`) and one with availableParallelism() workers:
 *   PUT of a big object vs the smaller of a raw sequential write (+fsync) and one MD5 stream;
 *   GET of a big object vs nginx serving the same file over loopback (same Node client), nginx
 *   with as many worker processes as the gateway;
 *   4 concurrent PUTs of a quarter of that size vs 4 concurrent raw writers, and vs the CPU floor:
 *   the CPU-seconds of hashing 4 streams at once, of sending them over loopback to a discarding
 *   server, and of the raw writes, summed and spread over every CPU;
 *   4 KiB objects, 16 concurrent clients: PUT, GET and HEAD ops/s next to nginx's GET ops/s and a
 *   bare Node.js server's GET and PUT (bare.ts: the least any Node server does, with as many
 *   workers), with the CPU each side (client, server) spent per request;
 *   ListObjectsV2 over many keys in pages of 1,000 (cold: MD5s computed; warm: cached);
 *   peak RSS of the whole gateway (supervisor and every worker) during a big upload.
 * Defaults are small (256 MiB objects, a few minutes); BENCH_OBJECT_MIB=1024 BENCH_LIST_KEYS=100000
 * BENCH_RSS_MIB=5120 BENCH_SMALL_COUNT=2000 give the sizes. BENCH_RUNS (default 3)
 * repeats throughput runs; medians are printed. BENCH_SECTIONS (default
 * "put,get,parallel,small,list,rss") picks parts, e.g. to measure memory again on its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
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
import {
  BLOCK,
  CONCURRENCY,
  closeClient,
  httpGet,
  httpPut,
  KEY,
  LAUNCHER_NODE_FLAGS,
  MiB,
  median,
  memory,
  pool,
  processTree,
  SECRET,
  timed,
  treeCpuSeconds,
  treeFootprint,
  treeRss,
} from "./client.js";
import { hashStreamsAtOnce } from "./md5-streams.js";
import { startNginx } from "./nginx.js";

const OBJECT_MIB = Number(process.env.BENCH_OBJECT_MIB ?? 256);
const PARALLEL = 4;
const PARALLEL_MIB = Number(process.env.BENCH_PARALLEL_MIB ?? OBJECT_MIB / PARALLEL);
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 1000);
const LIST_KEYS = Number(process.env.BENCH_LIST_KEYS ?? 20_000);
const RSS_MIB = Number(process.env.BENCH_RSS_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BUCKET = "vol-bench";
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? "put,get,parallel,small,list,rss").split(","));

interface Gateway {
  workers: number;
  proc: ChildProcess;
  endpoint: string;
  s3: S3Client;
  presign(cmd: GetObjectCommand | PutObjectCommand | HeadObjectCommand): Promise<string>;
  stop(): Promise<void>;
}

/** A bench server (a script here) in its own process: it prints `{"endpoint": …}` once it listens. */
async function startNodeServer(
  args: string[],
): Promise<{ proc: ChildProcess; endpoint: string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const endpoint = await new Promise<string>((resolve) => {
    proc.stdout!.once("data", (c) => resolve((JSON.parse(String(c)) as { endpoint: string }).endpoint));
  });
  return {
    proc,
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

const script = (name: string) => new URL(`./${name}`, import.meta.url).pathname;

/** One gateway in its own process (its memory and CPU measured alone); workers > 1: a supervisor and workers. */
async function startGateway(root: string, workers: number): Promise<Gateway> {
  // Started as the podkit launcher starts node.
  const { proc, endpoint, stop } = await startNodeServer([
    ...LAUNCHER_NODE_FLAGS,
    script("serve.js"),
    root,
    KEY,
    SECRET,
    String(workers),
  ]);
  const s3 = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
  });
  return {
    workers,
    proc,
    endpoint,
    s3,
    presign: (cmd) => getSignedUrl(s3, cmd, { expiresIn: 3600 }),
    stop: () => {
      s3.destroy();
      return stop();
    },
  };
}

/** Sequential 1 MiB writes of `size` bytes and an fsync: what the disk takes from one writer. */
async function rawWrite(path: string, size: number): Promise<void> {
  const fh = await open(path, "w");
  for (let off = 0; off < size; off += MiB) await fh.write(BLOCK);
  await fh.sync();
  await fh.close();
}

const mibs = (bytes: number, seconds: number) => bytes / MiB / seconds;
/** CPU-seconds this process (every thread) has used since `before`. */
const cpuSince = (before: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
};
const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

/** CPU-seconds, one sample per run, of each part a PUT of `bytes` cannot skip. */
interface PutCpu {
  md5: number[];
  loopback: number[];
  write: number[];
}

/**
 * The medians of a PUT's unskippable parts per GiB, summed and spread over every CPU: the most any
 * gateway that returns the MD5 ETag can take here while its client runs on the same CPUs.
 */
function cpuFloor(cpu: PutCpu, bytes: number): { mibPerSecond: number; sum: string } {
  const perGiB = (samples: number[]) => (median(samples) * 1024 * MiB) / bytes;
  const least = perGiB(cpu.md5) + perGiB(cpu.loopback) + perGiB(cpu.write);
  return {
    mibPerSecond: (cpus().length * 1024) / least,
    sum: `MD5 ${f2(perGiB(cpu.md5))} + loopback client and server ${f2(perGiB(cpu.loopback))} + write ${f2(perGiB(cpu.write))} = ${f2(least)} CPU-s per GiB`,
  };
}
const label = (g: { workers: number }) => `${g.workers} worker${g.workers > 1 ? "s" : ""}`;

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "podkit-s3-bench-"));
  const root = join(scratch, "root");
  const vol = join(root, BUCKET);
  mkdirSync(join(vol, "list"), { recursive: true });
  const workerCounts = availableParallelism() > 1 ? [1, availableParallelism()] : [1];
  const gateways: Gateway[] = [];
  for (const n of workerCounts) gateways.push(await startGateway(root, n));
  const nginxes = await Promise.all(workerCounts.map((n) => startNginx(root, scratch, n)));
  const sink = await startNodeServer([script("sink.js")]);
  const sinkUrl = sink.endpoint;
  const sinkPids = processTree(sink.proc.pid!);
  /** Seconds of `send` to the sink, and the CPU-seconds it took this client and the sink. */
  const toSink = async (send: () => Promise<unknown>) => {
    const sinkBefore = treeCpuSeconds(sinkPids);
    const clientBefore = process.cpuUsage();
    const seconds = await timed(send);
    return { seconds, cpu: cpuSince(clientBefore) + treeCpuSeconds(sinkPids) - sinkBefore };
  };
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  const say = (s: string) => console.log(s);
  try {
    const size = OBJECT_MIB * MiB;
    say(
      `# @podkit/s3-gateway benchmark (${OBJECT_MIB} MiB objects, ${RUNS} runs, medians; ${cpus().length} CPUs, gateways with ${workerCounts.join(" and ")} workers, nginx with as many worker processes; load average ${load()} at the start)`,
    );

    // Single-stream PUT vs one raw writer and one MD5 stream (every PUT must hash every byte).
    if (SECTIONS.has("put") || SECTIONS.has("get")) {
      const putUrls = await Promise.all(
        gateways.map((g) => g.presign(new PutObjectCommand({ Bucket: BUCKET, Key: `big-${g.workers}.bin` }))),
      );
      const raw: number[] = [];
      const md5: number[] = [];
      const sinkTimes: number[] = [];
      const putCpu: PutCpu = { md5: [], loopback: [], write: [] };
      const puts: number[][] = gateways.map(() => []);
      for (let r = 0; r < RUNS; r++) {
        const rawBefore = process.cpuUsage();
        raw.push(await timed(() => rawWrite(join(scratch, "raw.bin"), size)));
        putCpu.write.push(cpuSince(rawBefore));
        rmSync(join(scratch, "raw.bin"));
        const md5Before = process.cpuUsage();
        md5.push(
          await timed(async () => {
            const hash = createHash("md5");
            for (let off = 0; off < size; off += MiB) hash.update(BLOCK);
            hash.digest();
          }),
        );
        putCpu.md5.push(cpuSince(md5Before));
        for (const i of gateways.keys()) puts[i]!.push(await timed(() => httpPut(putUrls[i]!, size)));
        const sent = await toSink(() => httpPut(`${sinkUrl}/discard`, size));
        sinkTimes.push(sent.seconds);
        putCpu.loopback.push(sent.cpu);
      }
      const rawMBs = mibs(size, median(raw));
      const md5MBs = mibs(size, median(md5));
      const ceiling = Math.min(rawMBs, md5MBs);
      const floor = cpuFloor(putCpu, size);
      // One stream is hashed by one thread: never faster than MD5 alone, nor than the disk.
      const cpuCeiling = Math.min(ceiling, floor.mibPerSecond);
      say(
        `PUT ${OBJECT_MIB} MiB, one stream: raw write+fsync ${f0(rawMBs)} MiB/s, MD5 alone ${f0(md5MBs)} MiB/s, a bare Node server discarding the body ${f0(mibs(size, median(sinkTimes)))} MiB/s`,
      );
      say(
        `  the least CPU a PUT needs here: ${floor.sum} -> at most ${f0(cpuCeiling)} MiB/s = ${f2(cpuCeiling / ceiling)}x the smaller of raw and MD5`,
      );
      for (const [i, g] of gateways.entries()) {
        const mbs = mibs(size, median(puts[i]!));
        say(
          `  gateway, ${label(g)}: ${f0(mbs)} MiB/s = ${f2(mbs / rawMBs)}x raw write, ${f2(mbs / md5MBs)}x MD5, ${f2(mbs / ceiling)}x the smaller (target >= 0.8), ${f2(mbs / cpuCeiling)}x what the CPUs allow`,
        );
      }

      // Single-stream GET vs nginx with as many worker processes, same file, same client.
      const getUrls = await Promise.all(
        gateways.map((g) => g.presign(new GetObjectCommand({ Bucket: BUCKET, Key: `big-${g.workers}.bin` }))),
      );
      for (const u of getUrls) await httpGet(u); // warm the page cache
      const gets: number[][] = gateways.map(() => []);
      const nginxGets: number[][] = gateways.map(() => []);
      for (let r = 0; r < RUNS; r++) {
        for (const [i, g] of gateways.entries()) {
          nginxGets[i]!.push(await timed(() => httpGet(`${nginxes[i]!.url}/${BUCKET}/big-${g.workers}.bin`)));
          gets[i]!.push(await timed(() => httpGet(getUrls[i]!)));
        }
      }
      say(`GET ${OBJECT_MIB} MiB, one stream:`);
      for (const [i, g] of gateways.entries()) {
        const gw = mibs(size, median(gets[i]!));
        const ng = mibs(size, median(nginxGets[i]!));
        say(
          `  gateway, ${label(g)}: ${f0(gw)} MiB/s, nginx ${g.workers} worker processes ${f0(ng)} MiB/s, ratio ${f2(gw / ng)} (target >= 0.9)`,
        );
      }
      for (const g of gateways) rmSync(join(vol, `big-${g.workers}.bin`));
    }

    // 4 concurrent PUTs vs 4 concurrent raw writers, next to what the CPUs allow: every PUT hashes
    // every byte and receives it over loopback from a client on the same cores.
    if (SECTIONS.has("parallel")) {
      const parallelSize = PARALLEL_MIB * MiB;
      const rawParallel: number[] = [];
      const md5Parallel: number[] = [];
      const loopback: number[] = [];
      const putCpu: PutCpu = { md5: [], loopback: [], write: [] };
      const parallelPuts: number[][] = gateways.map(() => []);
      const parallelUrls = await Promise.all(
        gateways.map((g) =>
          Promise.all(
            Array.from({ length: PARALLEL }, (_, k) =>
              g.presign(new PutObjectCommand({ Bucket: BUCKET, Key: `par-${g.workers}-${k}.bin` })),
            ),
          ),
        ),
      );
      for (let r = 0; r < RUNS; r++) {
        const rawBefore = process.cpuUsage();
        rawParallel.push(
          await timed(() =>
            Promise.all(
              Array.from({ length: PARALLEL }, (_, k) =>
                rawWrite(join(scratch, `raw-${k}.bin`), parallelSize),
              ),
            ),
          ),
        );
        putCpu.write.push(cpuSince(rawBefore));
        for (let k = 0; k < PARALLEL; k++) rmSync(join(scratch, `raw-${k}.bin`));
        const hashed = await hashStreamsAtOnce(PARALLEL, parallelSize);
        md5Parallel.push(hashed.seconds);
        putCpu.md5.push(hashed.cpuSeconds);
        const sent = await toSink(() =>
          Promise.all(Array.from({ length: PARALLEL }, () => httpPut(`${sinkUrl}/discard`, parallelSize))),
        );
        loopback.push(sent.seconds);
        putCpu.loopback.push(sent.cpu);
        for (const [i] of gateways.entries()) {
          parallelPuts[i]!.push(
            await timed(() => Promise.all(parallelUrls[i]!.map((u) => httpPut(u, parallelSize)))),
          );
        }
      }
      const total = PARALLEL * parallelSize;
      const rawParallelMBs = mibs(total, median(rawParallel));
      const md5MBs = mibs(total, median(md5Parallel));
      const floor = cpuFloor(putCpu, total);
      const cpuCeiling = floor.mibPerSecond;
      say(
        `PUT ${PARALLEL} x ${PARALLEL_MIB} MiB at once: raw write+fsync with ${PARALLEL} writers ${f0(rawParallelMBs)} MiB/s in all; MD5 of ${PARALLEL} streams at once on ${cpus().length} CPUs (threads, nothing else running) ${f0(md5MBs)} MiB/s = ${f2(md5MBs / rawParallelMBs)}x raw; ${PARALLEL} streams over loopback into a bare Node server that discards them ${f0(mibs(total, median(loopback)))} MiB/s`,
      );
      say(
        `  the least CPU a PUT needs here: ${floor.sum} -> at most ${f0(cpuCeiling)} MiB/s on ${cpus().length} CPUs = ${f2(cpuCeiling / rawParallelMBs)}x raw`,
      );
      for (const [i, g] of gateways.entries()) {
        const mbs = mibs(total, median(parallelPuts[i]!));
        say(
          `  gateway, ${label(g)}: ${f0(mbs)} MiB/s in all, ${f2(mbs / rawParallelMBs)}x raw (target >= 0.8), ${f2(mbs / cpuCeiling)}x what the CPUs allow`,
        );
        for (let k = 0; k < PARALLEL; k++) rmSync(join(vol, `par-${g.workers}-${k}.bin`));
      }
    }

    // 4 KiB objects, 16 concurrent clients; CPU per request on each side from /proc and cpuUsage.
    if (SECTIONS.has("small")) {
      const small = randomBytes(4096);
      const measure = async (serverPid: number, fn: () => Promise<unknown>) => {
        const pids = processTree(serverPid);
        const serverBefore = treeCpuSeconds(pids);
        const clientBefore = process.cpuUsage();
        const seconds = await timed(fn);
        return {
          ops: SMALL_COUNT / seconds,
          serverUs: ((treeCpuSeconds(pids) - serverBefore) * 1e6) / SMALL_COUNT,
          clientUs: (cpuSince(clientBefore) * 1e6) / SMALL_COUNT,
        };
      };
      type Pass = Awaited<ReturnType<typeof measure>>;
      const show = (p: Pass) =>
        `${f0(p.ops)} ops/s (CPU per request: server ${f0(p.serverUs)} µs, client ${f0(p.clientUs)} µs)`;
      const smallResults: Array<{
        put: Pass;
        get: Pass;
        head: Pass;
        nginx: Pass;
        barePut: Pass;
        bareGet: Pass;
      }> = [];
      say(`4 KiB objects (${SMALL_COUNT}, ${CONCURRENCY} concurrent clients):`);
      for (const [i, g] of gateways.entries()) {
        // The bare Node.js server (bare.ts) with as many processes, serving the same files.
        const bare = await startNodeServer([script("bare.js"), root, String(g.workers)]);
        const keys = Array.from({ length: SMALL_COUNT }, (_, k) => `small-${g.workers}/o${k}`);
        const urls = (make: (k: string) => PutObjectCommand | GetObjectCommand | HeadObjectCommand) =>
          Promise.all(keys.map((k) => g.presign(make(k))));
        const put = await urls((k) => new PutObjectCommand({ Bucket: BUCKET, Key: k }));
        const get = await urls((k) => new GetObjectCommand({ Bucket: BUCKET, Key: k }));
        const head = await urls((k) => new HeadObjectCommand({ Bucket: BUCKET, Key: k }));
        const pid = g.proc.pid!;
        mkdirSync(join(vol, `bare-${g.workers}`), { recursive: true });
        let result: (typeof smallResults)[number];
        try {
          result = {
            put: await measure(pid, () => pool(put, (u) => httpPut(u, 4096, small))),
            get: await measure(pid, () => pool(get, (u) => httpGet(u))),
            head: await measure(pid, () => pool(head, (u) => httpGet(u, "HEAD"))),
            nginx: await measure(nginxes[i]!.pid, () =>
              pool(keys, (k) => httpGet(`${nginxes[i]!.url}/${BUCKET}/${k}`)),
            ),
            // The same files the gateway and nginx served; PUTs into a folder of its own.
            bareGet: await measure(bare.proc.pid!, () =>
              pool(keys, (k) => httpGet(`${bare.endpoint}/${BUCKET}/${k}`)),
            ),
            barePut: await measure(bare.proc.pid!, () =>
              pool(keys, (k) =>
                httpPut(`${bare.endpoint}/${BUCKET}/bare-${g.workers}/${k.split("/")[1]}`, 4096, small),
              ),
            ),
          };
        } finally {
          await bare.stop();
        }
        smallResults.push(result);
        const vsOne =
          i > 0
            ? `; vs 1 worker: PUT ${f2(result.put.ops / smallResults[0]!.put.ops)}x (target >= 2), GET ${f2(result.get.ops / smallResults[0]!.get.ops)}x, HEAD ${f2(result.head.ops / smallResults[0]!.head.ops)}x`
            : "";
        say(
          `  gateway, ${label(g)}: PUT ${show(result.put)}, GET ${show(result.get)}, HEAD ${show(result.head)}; nginx ${g.workers} worker processes GET ${show(result.nginx)}; gateway GET ${f2(result.get.ops / result.nginx.ops)}x nginx (target >= 0.6)${vsOne}`,
        );
        const bareVsOne =
          i > 0
            ? `; vs 1 worker: PUT ${f2(result.barePut.ops / smallResults[0]!.barePut.ops)}x, GET ${f2(result.bareGet.ops / smallResults[0]!.bareGet.ops)}x (nginx ${f2(result.nginx.ops / smallResults[0]!.nginx.ops)}x)`
            : "";
        say(
          `  bare Node server, ${label(g)} (the ceiling for a Node server): GET ${show(result.bareGet)} = ${f2(result.bareGet.ops / result.nginx.ops)}x nginx, PUT ${show(result.barePut)}; gateway GET ${f2(result.get.ops / result.bareGet.ops)}x and PUT ${f2(result.put.ops / result.barePut.ops)}x the bare server's${bareVsOne}`,
        );
        // Client and server share the cores: their CPU per request bounds ops/s on this machine.
        const bound = (p: Pass) =>
          `${f0(p.serverUs + p.clientUs)} µs -> at most ${f0((cpus().length * 1e6) / (p.serverUs + p.clientUs))} ops/s`;
        say(
          `  client + server CPU per GET on ${cpus().length} cores: nginx ${bound(result.nginx)}, bare Node ${bound(result.bareGet)}, gateway ${bound(result.get)}`,
        );
      }
    }

    // ListObjectsV2 over many keys written "from a Pod" (no cached MD5 yet), one-process gateway.
    if (SECTIONS.has("list")) {
      for (let i = 0; i < LIST_KEYS; i++)
        writeFileSync(join(vol, "list", `k${String(i).padStart(7, "0")}`), "x");
      for (const pass of ["cold (MD5s computed)", "warm (MD5s cached)"]) {
        let count = 0;
        let pages = 0;
        const t = await timed(async () => {
          for await (const page of paginateListObjectsV2(
            { client: gateways[0]!.s3, pageSize: 1000 },
            { Bucket: BUCKET, Prefix: "list/" },
          )) {
            count += page.KeyCount ?? 0;
            pages += 1;
          }
        });
        if (count !== LIST_KEYS) throw new Error(`listed ${count} of ${LIST_KEYS} keys`);
        say(`ListObjectsV2 ${LIST_KEYS} keys, pages of 1000 (${pages} pages), ${pass}: ${t.toFixed(2)} s`);
      }
    }

    // Peak RSS of the whole gateway (supervisor + workers, summed every 50 ms) during a big upload:
    // in the gateways that served everything above, then in freshly started ones.
    const rssDuring = async (g: Gateway, when: string) => {
      const url = await g.presign(new PutObjectCommand({ Bucket: BUCKET, Key: "rss.bin" }));
      const pids = processTree(g.proc.pid!);
      const before = treeRss(pids);
      let peak = before;
      let peakOne = 0;
      let peakFootprint = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, treeRss(pids));
        for (const pid of pids) peakOne = Math.max(peakOne, treeRss([pid]));
        if (g.workers > 1) peakFootprint = Math.max(peakFootprint, treeFootprint(pids));
      }, 50);
      const t = await timed(() => httpPut(url, RSS_MIB * MiB));
      clearInterval(sampler);
      const hwm = pids.map((pid) => f0(memory(pid, "VmHWM") / MiB)).join(" + ");
      // With workers, the first process is the supervisor: the largest one is a worker.
      // Summed RSS counts the pages every process shares (the node binary) once per process; the
      // footprint counts them once: the memory the whole gateway takes from the machine.
      const supervisor =
        g.workers > 1
          ? `, supervisor ${f0(memory(pids[0]!, "VmHWM") / 1e6)} MB; shared pages counted once ${f0(peakFootprint / 1e6)} MB = ${f0(peakFootprint / 1e6 / g.workers)} MB per worker`
          : "";
      say(
        `  ${label(g)}, ${when} (${f0(RSS_MIB / t)} MiB/s): ${f0(peak / 1e6)} MB (${f0(peak / MiB)} MiB) in all over ${pids.length} processes, ${f0(before / 1e6)} MB before; largest worker process ${f0(peakOne / 1e6)} MB (target < 120 per worker)${supervisor}; the whole gateway ÷ workers ${f0(peak / 1e6 / g.workers)} MB; high-water marks ${hwm} MiB`,
      );
      rmSync(join(vol, "rss.bin"), { force: true });
    };
    if (SECTIONS.has("rss")) {
      say(`Peak RSS of the whole gateway during a ${RSS_MIB} MiB upload:`);
      // The gateways that served the sections above (none when memory is measured on its own).
      if ([...SECTIONS].some((name) => name !== "rss"))
        for (const g of gateways) await rssDuring(g, "after the runs above");
      for (const n of workerCounts) {
        const fresh = await startGateway(root, n);
        try {
          await rssDuring(fresh, "freshly started");
        } finally {
          await fresh.stop();
        }
      }
    }
    say(`# load average ${load()} at the end`);
  } finally {
    closeClient();
    for (const n of nginxes) await n.stop();
    for (const g of gateways) await g.stop();
    await sink.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
