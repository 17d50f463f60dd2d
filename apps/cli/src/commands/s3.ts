import cluster from "node:cluster";
import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError, parseListen } from "@podkit/core";
import type { S3GatewayOptions } from "@podkit/s3-gateway";
import { DEFAULT_TIMEOUTS } from "@podkit/s3-gateway/defaults";
import type { Command } from "commander";
import { z } from "zod";
import { type ConfigSources, commandConfig, givenFlags } from "../config.js";
import { type Output, printJson } from "../output.js";

/** The flags of `s3 serve` as commander hands them over. */
interface ServeFlags {
  config?: string;
  root?: string;
  listen?: string;
  region?: string;
  credentials?: string;
  domain?: string;
  allowBucketAdmin?: boolean;
  metricsListen?: string;
  metadata?: string;
  accessLog?: boolean;
  json?: boolean;
  headerTimeout?: string;
  idleTimeout?: string;
  keepAliveTimeout?: string;
  workers?: string;
  drainTimeout?: string;
}

const seconds = z.union([z.number(), z.string()]);

/** `podkit s3 serve` settings: one key per flag, `[s3]` in the file. */
export const S3ServeConfigSchema = z.object({
  root: z.string().optional(),
  listen: z.string().default("127.0.0.1:9000"),
  region: z.string().default("us-east-1"),
  credentials: z.string().optional(),
  domain: z.string().optional(),
  allowBucketAdmin: z.boolean().default(false),
  metricsListen: z.string().optional(),
  metadata: z.string().default("auto"),
  accessLog: z.boolean().default(true),
  headerTimeout: seconds.default(DEFAULT_TIMEOUTS.headerMs / 1000),
  idleTimeout: seconds.default(DEFAULT_TIMEOUTS.idleMs / 1000),
  keepAliveTimeout: seconds.default(DEFAULT_TIMEOUTS.keepAliveMs / 1000),
  workers: seconds.optional(),
  drainTimeout: seconds.default(10),
});

export interface S3ServeConfig {
  options: Omit<S3GatewayOptions, "credentials">;
  credentialsFile?: string;
  workers: number;
  drainMs: number;
}

/**
 * What `s3 serve` starts with: flags > PODKIT_S3_* > the `[s3]` table of the config file >
 * defaults; every value checked before anything opens. (Key pairs come from --credentials or
 * PODKIT_S3_ACCESS_KEY / PODKIT_S3_SECRET_KEY, read by the gateway.)
 */
export function s3ServeConfig(
  flags: Omit<ServeFlags, "config" | "json">,
  sources: ConfigSources = {},
): S3ServeConfig {
  const c = commandConfig(
    S3ServeConfigSchema,
    { section: "s3", what: "S3 gateway configuration" },
    flags,
    sources,
  ).config;
  if (!c.root) {
    throw new ConfigError("no volumes directory: give --root DIR (or PODKIT_S3_ROOT, or root in [s3])");
  }
  if (!existsSync(c.root) || !statSync(c.root).isDirectory()) {
    throw new ConfigError(`--root ${c.root} is not a directory; create it or point at the volumes' parent`);
  }
  if (!["auto", "xattr", "sidecar"].includes(c.metadata)) {
    throw new ConfigError(`--metadata must be auto, xattr or sidecar (got "${c.metadata}")`);
  }
  parseListen(c.listen, "--listen");
  if (c.metricsListen) parseListen(c.metricsListen, "--metrics-listen");
  return {
    options: {
      root: c.root,
      listen: c.listen,
      region: c.region,
      allowBucketAdmin: c.allowBucketAdmin,
      metadata: c.metadata as "auto" | "xattr" | "sidecar",
      headerTimeoutMs: secondsFlag("header-timeout", String(c.headerTimeout)),
      idleTimeoutMs: secondsFlag("idle-timeout", String(c.idleTimeout)),
      keepAliveTimeoutMs: secondsFlag("keep-alive-timeout", String(c.keepAliveTimeout)),
      ...(c.domain ? { domain: c.domain } : {}),
      ...(c.metricsListen ? { metricsListen: c.metricsListen } : {}),
      ...(c.accessLog ? {} : { accessLog: false }),
    },
    ...(c.credentials ? { credentialsFile: c.credentials } : {}),
    workers: workersFlag(String(c.workers ?? availableParallelism())),
    drainMs: secondsFlag("drain-timeout", String(c.drainTimeout)),
  };
}

function workersFlag(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 1024) {
    throw new ConfigError(`--workers must be a whole number from 1 to 1024 (got "${value}")`);
  }
  return n;
}

/** Seconds from a flag (fractions allowed) as milliseconds; a clear error for anything else. */
function secondsFlag(name: string, value: string): number {
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new ConfigError(`--${name} must be a number of seconds greater than 0 (got "${value}")`);
  }
  return Math.round(seconds * 1000);
}

// Long: one commander block per verb, flat.
export function registerS3Commands(program: Command, output: Output): void {
  const s3 = program.command("s3").description("S3-compatible access to network volumes");
  s3.command("serve")
    .description(
      "serve each top-level directory of --root as an S3 bucket (a volume) to the AWS CLI, boto3, rclone, s3cmd and the SDKs",
    )
    .option(
      "--config <file>",
      "TOML file, table [s3] (default ~/.config/podkit/config.toml, /etc/podkit/config.toml)",
    )
    .option("--root <dir>", "directory whose top-level directories are the volumes (required)")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:9000)")
    .option("--region <region>", "region reported to clients (the data center; default us-east-1)")
    .option(
      "--credentials <file>",
      "key pairs file (TOML or .json): [[credentials]] accessKeyId, secretAccessKey, volumes; also PODKIT_S3_ACCESS_KEY / PODKIT_S3_SECRET_KEY",
    )
    .option("--domain <domain>", "accept virtual-host-style requests for <bucket>.<domain>")
    .option(
      "--allow-bucket-admin",
      "allow CreateBucket / DeleteBucket (volumes otherwise come from the platform)",
    )
    .option("--metrics-listen <host:port>", "serve Prometheus metrics at /metrics on this address")
    .option("--metadata <store>", "where ETags and metadata live: auto (default), xattr or sidecar")
    .option("--no-access-log", "do not log a line per request")
    .option(
      "--header-timeout <seconds>",
      `drop a connection that has not sent a whole request header within this long (default ${DEFAULT_TIMEOUTS.headerMs / 1000})`,
    )
    .option(
      "--idle-timeout <seconds>",
      `drop a connection on which nothing moves this long during a request (its upload is discarded; default ${DEFAULT_TIMEOUTS.idleMs / 1000})`,
    )
    .option(
      "--keep-alive-timeout <seconds>",
      `close an idle keep-alive connection after this long (default ${DEFAULT_TIMEOUTS.keepAliveMs / 1000})`,
    )
    .option(
      "--workers <n>",
      "worker processes sharing the listening address (default: the CPUs this process may use; 1: a single process)",
    )
    .option(
      "--drain-timeout <seconds>",
      "on SIGTERM, how long requests in flight may take to finish before their connections are closed (default 10)",
    )
    .option("--json", "print the endpoint as JSON once listening")
    .action(async (flags: ServeFlags, cmd: Command) => {
      const {
        options: base,
        credentialsFile,
        workers,
        drainMs,
      } = s3ServeConfig(givenFlags(cmd), { configFile: flags.config });
      // The gateway loads when the command runs, not for its --help; a supervisor of workers
      // never loads it (only its own entry), so it stays small beside them.
      const { loadCredentials, runS3Worker, startS3Cluster } = await import("@podkit/s3-gateway/supervisor");
      const credentials = loadCredentials({
        ...(credentialsFile ? { file: credentialsFile } : {}),
        env: process.env,
      });
      const options: S3GatewayOptions = { ...base, credentials };
      // node:cluster re-runs this command in each worker; there it serves until the supervisor
      // says stop, and exits.
      if (cluster.isWorker) return runS3Worker(options);
      const gateway =
        workers > 1
          ? await startS3Cluster({ ...options, workers, drainMs })
          : await (await import("@podkit/s3-gateway")).startS3Gateway(options);
      if (flags.json) {
        printJson(output, {
          endpoint: gateway.endpoint,
          metricsUrl: gateway.metricsUrl ?? null,
          root: options.root,
          region: options.region,
        });
      } else {
        output.out(
          `podkit s3: serving volumes under ${options.root} at ${gateway.endpoint} (region ${options.region})`,
        );
        if (gateway.metricsUrl) output.out(`podkit s3: metrics at ${gateway.metricsUrl}`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void gateway.close({ graceMs: drainMs }).then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
