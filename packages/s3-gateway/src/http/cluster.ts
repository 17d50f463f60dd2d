import cluster, { type Worker } from "node:cluster";
import type { Server } from "node:http";
import { isSea } from "node:sea";
import { createLogger, PodkitError, parseListen } from "@podkit/core";
import { takeV8Collector } from "@podkit/core/gc";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { CredentialStore } from "../auth/credentials.js";
import type { S3Gateway, S3GatewayOptions } from "./server.js";

// Several gateway processes on one listening address (node:cluster: the supervisor accepts and
// hands connections to the workers in turn). Every piece of state a request needs already lives
// on the volume (multipart uploads, claims, locks, metadata, cached ETags), so workers share
// nothing in memory; the supervisor only starts, restarts and stops them and sums their metrics.
// So the supervisor loads only this module (the package's "./supervisor" entry): the gateway
// itself is imported in the workers, prom-client only when metrics are served.

/** The address a worker listens on (the supervisor's --listen). */
const LISTEN_ENV = "PODKIT_S3_WORKER_LISTEN";
/**
 * V8's young generation for a worker: at most 2 MiB per semi-space instead of 16. A gateway's
 * young objects are request-sized, so a small nursery costs no measurable throughput (4 KiB GET
 * and PUT ops/s within run-to-run noise) and keeps 10–17 MiB of RSS per worker that the default
 * lets the nursery grow into during start-up and never gives back. (The `podkit` launcher keeps
 * Node's default for every command: a transfer's receiver peaks higher with a small nursery.)
 */
const WORKER_SEMI_SPACE_FLAG = "--max-semi-space-size=2";
/**
 * glibc malloc arenas per worker: every thread that allocates (the MD5 thread, libuv's pool)
 * otherwise gets an arena of its own, and freed upload buffers stay mapped in each (6–8 MiB).
 */
const WORKER_MALLOC_ARENAS = "2";

/**
 * The Node.js flags a worker starts with: the supervisor's own, plus a small young generation
 * unless one was chosen (on the command line or in NODE_OPTIONS). The single executable takes no
 * Node.js flags on its command line (they would reach the program as arguments), so its workers
 * start as it did.
 */
export function workerExecArgv(
  execArgv: readonly string[],
  singleExecutable: boolean,
  nodeOptions = "",
): string[] {
  if (singleExecutable) return [...execArgv];
  const semiSpace = /--max[-_]semi[-_]space[-_]size\b/;
  const chosen = execArgv.some((flag) => semiSpace.test(flag)) || semiSpace.test(nodeOptions);
  return chosen ? [...execArgv] : [...execArgv, WORKER_SEMI_SPACE_FLAG];
}

/** How long the supervisor waits for a worker's metrics before leaving it out of a scrape. */
const METRICS_WAIT_MS = 2000;
/** A worker that dies before it listens is started again after this pause (no busy crash loop). */
const RESTART_PAUSE_MS = 1000;

type FromWorker =
  | { podkitS3: "listening"; endpoint: string }
  | { podkitS3: "metrics"; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };
type ToWorker = { podkitS3: "metrics"; id: number } | { podkitS3: "stop"; graceMs: number };

export interface S3ClusterOptions extends S3GatewayOptions {
  /** Worker processes (≥ 2; one process is `startS3Gateway`). */
  workers: number;
  /** How long SIGTERM's drain lets requests in flight finish (default 10 s). */
  drainMs?: number;
}

/** The supervisor's handle: the shared endpoint, the summed metrics' URL, and a drain. */
export type S3GatewayCluster = Omit<S3Gateway, "metrics">;

/**
 * Supervisor side: fork `workers` processes that each run `runS3Worker` (the same program,
 * re-run by node:cluster), restart any that dies, serve their summed metrics, and on `close`
 * drain them all. Resolves once every worker listens.
 */
// Long: the supervisor's fork, restart, metrics and drain handling share the ready set and the stopping flag.
export async function startS3Cluster(options: S3ClusterOptions): Promise<S3GatewayCluster> {
  if (!cluster.isPrimary) throw new Error("startS3Cluster runs in the supervisor; workers call runS3Worker");
  // A configuration every worker would refuse is refused here, before any worker starts.
  new CredentialStore(options.credentials);
  const log = createLogger({ name: "s3-gateway" });
  const ready = new Set<Worker>();
  let stopping = false;
  // Every worker asks for the same address, port 0 included: node:cluster keys the one
  // listening socket it holds for them by the address asked for, so they all share its port.
  const listen = options.listen ?? "127.0.0.1:9000";
  // Bad addresses are usage errors the supervisor reports once, rather than each worker failing.
  parseListen(listen, "--listen");
  if (options.metricsListen) parseListen(options.metricsListen, "--metrics-listen");
  let endpoint = "";
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, isSea(), process.env.NODE_OPTIONS) });
  const workerEnv = {
    [LISTEN_ENV]: listen,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENAS,
  };

  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork(workerEnv);
      const started = Date.now();
      worker.on("message", (msg: FromWorker) => {
        if (msg?.podkitS3 !== "listening") return;
        ready.add(worker);
        resolve();
        if (endpoint === "") endpoint = msg.endpoint;
      });
      worker.once("exit", (code, signal) => {
        const wasReady = ready.delete(worker);
        if (!wasReady) {
          const why = `s3 gateway worker exited (${signal ?? code}) before it listened on ${listen}`;
          reject(new PodkitError("E_LISTEN", why));
        }
        if (stopping) return;
        log.warn({ worker: worker.process.pid, code, signal }, "s3 gateway worker died; starting another");
        const pause = wasReady && Date.now() - started > RESTART_PAUSE_MS ? 0 : RESTART_PAUSE_MS;
        setTimeout(() => {
          if (!stopping) fork().catch(() => undefined); // its own exit handler restarts it again
        }, pause);
      });
    });

  try {
    await fork(); // the first one alone: it settles the port the others share
    await Promise.all(Array.from({ length: options.workers - 1 }, fork));
    // The supervisor then only forwards signals and metrics: give back what start-up left behind.
    takeV8Collector()?.();
  } catch (err) {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGKILL");
    throw err;
  }

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (options.metricsListen) {
    const pending = new Map<number, (m: FromWorker & { podkitS3: "metrics" }) => void>();
    let nextId = 0;
    cluster.on("message", (_worker, msg: FromWorker) => {
      if (msg?.podkitS3 === "metrics") pending.get(msg.id)?.(msg);
    });
    const ask = (worker: Worker) =>
      new Promise<MetricObjectWithValues<MetricValue<string>>[] | undefined>((resolve) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(undefined); // a worker that died meanwhile is left out of this scrape
        }, METRICS_WAIT_MS);
        pending.set(id, (msg) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(msg.metrics);
        });
        worker.send({ podkitS3: "metrics", id } satisfies ToWorker);
      });
    const { host, port } = parseListen(options.metricsListen, "--metrics-listen");
    const [{ AggregatorRegistry }, { listenMetrics }] = await Promise.all([
      import("prom-client"),
      import("./metrics.js"),
    ]);
    const started = await listenMetrics(host, port, async () => {
      const answers = await Promise.all([...ready].map(ask));
      const summed = AggregatorRegistry.aggregate(answers.filter((a) => a !== undefined));
      return { text: await summed.metrics(), contentType: summed.contentType };
    });
    metricsServer = started.server;
    metricsUrl = started.url;
  }

  return {
    endpoint,
    ...(metricsUrl ? { metricsUrl } : {}),
    close: async ({ graceMs = options.drainMs ?? 10_000 } = {}) => {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              // A worker that does not finish its drain in time is killed.
              const overdue = setTimeout(() => worker.kill("SIGKILL"), graceMs + 5000);
              worker.once("exit", () => {
                clearTimeout(overdue);
                resolve();
              });
              worker.send({ podkitS3: "stop", graceMs } satisfies ToWorker);
            }),
        ),
      );
      if (metricsServer) {
        const server = metricsServer;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    },
  };
}

/**
 * Worker side: serve S3 on the supervisor's shared address, answer its metrics requests, and
 * drain and exit when it says stop. Signals are the supervisor's to handle (a terminal's Ctrl-C
 * reaches the whole process group); a worker whose supervisor is gone exits (node:cluster).
 */
export async function runS3Worker(options: S3GatewayOptions): Promise<void> {
  if (!cluster.isWorker) throw new Error("runS3Worker runs in a node:cluster worker");
  const { metricsListen: _notHere, ...own } = options;
  const { startS3Gateway } = await import("./server.js");
  const gateway = await startS3Gateway({ ...own, listen: process.env[LISTEN_ENV] ?? own.listen }).catch(
    (err: unknown) => {
      // The supervisor's channel would keep this process alive; let it go so the failure ends it.
      process.disconnect?.();
      throw err;
    },
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => undefined);
  await new Promise<void>((resolve) => {
    process.on("message", (msg: ToWorker) => {
      if (msg?.podkitS3 === "metrics") {
        void gateway.metrics.registry.getMetricsAsJSON().then((metrics) => {
          process.send?.({ podkitS3: "metrics", id: msg.id, metrics } satisfies FromWorker);
        });
      } else if (msg?.podkitS3 === "stop") {
        void gateway.close({ graceMs: msg.graceMs }).then(resolve);
      }
    });
    process.send?.({ podkitS3: "listening", endpoint: gateway.endpoint } satisfies FromWorker);
  });
  process.exit(0);
}
