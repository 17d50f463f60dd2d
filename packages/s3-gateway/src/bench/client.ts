// The benchmarks' HTTP client and helpers: plain node:http with one keep-alive agent, the same
// client for the gateway and for nginx, so the ratios compare servers, not clients.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Agent, type ClientRequest, request } from "node:http";

export const MiB = 1024 * 1024;
/**
 * The Node.js flags the `podkit` launcher starts with (its shebang: `gc` for the gateway's paced
 * collections), so the gateway is measured as users run it.
 */
export const LAUNCHER_NODE_FLAGS = ["--expose-gc"];
export const CONCURRENCY = 16;
export const KEY = "bench-access";
export const SECRET = "bench-secret-0123456789";

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const chunk = randomBytes(MiB);

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function closeClient(): void {
  agent.destroy();
}

/**
 * A request sent on a reused keep-alive socket that the server closed meanwhile fails with
 * ECONNRESET before any answer: sent once more on a fresh socket (every request here is idempotent).
 */
function retryOnStaleSocket<T>(send: () => { req: ClientRequest; done: Promise<T> }): Promise<T> {
  const first = send();
  return first.done.catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ECONNRESET" || !first.req.reusedSocket) throw err;
    return send().done;
  });
}

/** Bytes of the response body; rejects on anything but 200. */
export function httpGet(url: string, method = "GET"): Promise<number> {
  return retryOnStaleSocket(() => getOnce(url, method));
}

function getOnce(url: string, method: string): { req: ClientRequest; done: Promise<number> } {
  let req!: ClientRequest;
  const done = new Promise<number>((resolve, reject) => {
    req = request(url, { method, agent }, (res) => {
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
  return { req, done };
}

/** PUT `body`, or `size` bytes streamed in 1 MiB writes when no body is given. */
export function httpPut(url: string, size: number, body?: Buffer): Promise<void> {
  return retryOnStaleSocket(() => putOnce(url, size, body));
}

function putOnce(url: string, size: number, body?: Buffer): { req: ClientRequest; done: Promise<void> } {
  let req!: ClientRequest;
  const done = new Promise<void>((resolve, reject) => {
    req = request(url, { method: "PUT", agent, headers: { "content-length": String(size) } }, (res) => {
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
  return { req, done };
}

/** The benchmark's 1 MiB block of random bytes (what PUTs and raw writes send). */
export const BLOCK = chunk;

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Run `fn` over `items` with `concurrency` at a time. */
export async function pool<T>(
  items: T[],
  fn: (item: T) => Promise<unknown>,
  concurrency = CONCURRENCY,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of a process, or of one of its threads when `tid` is given. */
export function threadCpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(`/proc/${pid}/${tid !== undefined ? `task/${tid}/` : ""}stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ")": utime and stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory of a process now (VmRSS) or its high-water mark (VmHWM), in bytes. */
export function memory(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
}

/** A process and its descendants (the gateway's supervisor and workers, nginx's master and workers). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const queue = [pid]; queue.length > 0; ) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(parents.get(p) ?? []));
  }
  return out;
}

/** CPU seconds of every process in a tree (read at one moment; a process that exits drops out). */
export function treeCpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += threadCpuSeconds(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/** Resident memory (VmRSS) summed over processes, in bytes. */
export function treeRss(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += memory(pid, "VmRSS");
    } catch {
      // exited
    }
  }
  return sum;
}

/**
 * What a tree of processes takes from the machine, in bytes: each process's private pages, plus the
 * pages they share (the node binary's code, mapped by every one) once, where treeRss counts them
 * once per process. (An upper bound: shared pages are taken from the process that has most.)
 */
export function treeFootprint(pids: readonly number[]): number {
  let own = 0;
  let shared = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0) * 1024;
      own += kb("Private_Clean") + kb("Private_Dirty");
      shared = Math.max(shared, kb("Shared_Clean") + kb("Shared_Dirty"));
    } catch {
      // exited
    }
  }
  return own + shared;
}
