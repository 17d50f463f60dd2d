import cluster from "node:cluster";
import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError } from "@podkit/core";
import type { S3GatewayOptions } from "@podkit/s3-gateway";
import { DEFAULT_TIMEOUTS } from "@podkit/s3-gateway/defaults";
import type { Command } from "commander";
import { type Output, printJson } from "../output.js";

interface ServeFlags {
  root: string;
  listen: string;
  region: string;
  credentials?: string;
  domain?: string;
  allowBucketAdmin?: boolean;
  metricsListen?: string;
  metadata: "auto" | "xattr" | "sidecar";
  accessLog: boolean;
  json?: boolean;
  headerTimeout: string;
  idleTimeout: string;
  keepAliveTimeout: string;
  workers: string;
  drainTimeout: string;
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

export function registerS3Commands(program: Command, output: Output): void {
  const s3 = program.command("s3").description("S3-compatible access to network volumes");
  s3.command("serve")
    .description(
      "serve each top-level directory of --root as an S3 bucket (a volume) to the AWS CLI, boto3, rclone, s3cmd and the SDKs",
    )
    .requiredOption("--root <dir>", "directory whose top-level directories are the volumes")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:9000")
    .option("--region <region>", "region reported to clients (the data center)", "us-east-1")
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
    .option("--metadata <store>", "where ETags and metadata live: auto, xattr or sidecar", "auto")
    .option("--no-access-log", "do not log a line per request")
    .option(
      "--header-timeout <seconds>",
      "drop a connection that has not sent a whole request header within this long",
      String(DEFAULT_TIMEOUTS.headerMs / 1000),
    )
    .option(
      "--idle-timeout <seconds>",
      "drop a connection on which nothing moves this long during a request (its upload is discarded)",
      String(DEFAULT_TIMEOUTS.idleMs / 1000),
    )
    .option(
      "--keep-alive-timeout <seconds>",
      "close an idle keep-alive connection after this long",
      String(DEFAULT_TIMEOUTS.keepAliveMs / 1000),
    )
    .option(
      "--workers <n>",
      "worker processes sharing the listening address (default: the CPUs this process may use; 1: a single process)",
      String(availableParallelism()),
    )
    .option(
      "--drain-timeout <seconds>",
      "on SIGTERM, how long requests in flight may take to finish before their connections are closed",
      "10",
    )
    .option("--json", "print the endpoint as JSON once listening")
    .action(async (flags: ServeFlags) => {
      if (!existsSync(flags.root) || !statSync(flags.root).isDirectory()) {
        throw new ConfigError(
          `--root ${flags.root} is not a directory; create it or point at the volumes' parent`,
        );
      }
      if (!["auto", "xattr", "sidecar"].includes(flags.metadata)) {
        throw new ConfigError(`--metadata must be auto, xattr or sidecar (got "${flags.metadata}")`);
      }
      const headerTimeoutMs = secondsFlag("header-timeout", flags.headerTimeout);
      const idleTimeoutMs = secondsFlag("idle-timeout", flags.idleTimeout);
      const keepAliveTimeoutMs = secondsFlag("keep-alive-timeout", flags.keepAliveTimeout);
      const workers = workersFlag(flags.workers);
      const drainMs = secondsFlag("drain-timeout", flags.drainTimeout);
      // The gateway loads when the command runs, not for its --help.
      const { loadCredentials, runS3Worker, startS3Cluster, startS3Gateway } = await import(
        "@podkit/s3-gateway"
      );
      const credentials = loadCredentials({
        ...(flags.credentials ? { file: flags.credentials } : {}),
        env: process.env,
      });
      const options: S3GatewayOptions = {
        root: flags.root,
        listen: flags.listen,
        region: flags.region,
        credentials,
        allowBucketAdmin: flags.allowBucketAdmin ?? false,
        metadata: flags.metadata,
        headerTimeoutMs,
        idleTimeoutMs,
        keepAliveTimeoutMs,
        ...(flags.domain ? { domain: flags.domain } : {}),
        ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
        ...(flags.accessLog ? {} : { accessLog: false }),
      };
      // node:cluster re-runs this command in each worker; there it serves until the supervisor
      // says stop, and exits.
      if (cluster.isWorker) return runS3Worker(options);
      const gateway =
        workers > 1 ? await startS3Cluster({ ...options, workers, drainMs }) : await startS3Gateway(options);
      if (flags.json) {
        printJson(output, {
          endpoint: gateway.endpoint,
          metricsUrl: gateway.metricsUrl ?? null,
          root: flags.root,
          region: flags.region,
        });
      } else {
        output.out(
          `podkit s3: serving volumes under ${flags.root} at ${gateway.endpoint} (region ${flags.region})`,
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
