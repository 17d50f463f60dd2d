import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ControlPlaneOptions } from "@podkit/control-plane";
import {
  AuthError,
  ConfigError,
  type ConfigSource,
  ConflictError,
  codeForHttpStatus,
  httpStatusOf,
  isErrorCode,
  NotFoundError,
  PodkitError,
  parseDuration,
  parseListen,
  UnavailableError,
  ValidationError,
} from "@podkit/core";
import type { Command } from "commander";
import { z } from "zod";
import { type ConfigSources, commandConfig, givenFlags } from "../config.js";
import type { Output } from "../output.js";

/** `--control-plane` / `--admin-token`, shared by every command that talks to the API. */
export interface ApiFlags {
  controlPlane?: string;
  adminToken?: string;
}

export function withApiOptions(cmd: Command): Command {
  return cmd
    .option("--control-plane <url>", "control plane base URL (default: PODKIT_CONTROL_PLANE)")
    .option(
      "--admin-token <token>",
      "admin token (default: PODKIT_ADMIN_TOKEN, or the local control plane's token file)",
    );
}

/** http(s) base URL from the flag or PODKIT_CONTROL_PLANE; ws(s) URLs are accepted as agents use them. */
export function controlPlaneUrl(flags: ApiFlags, env = process.env): string {
  const raw = flags.controlPlane ?? env.PODKIT_CONTROL_PLANE;
  if (!raw) throw new ConfigError("no control plane: pass --control-plane URL or set PODKIT_CONTROL_PLANE");
  let url: URL;
  try {
    url = new URL(raw.replace(/^ws(s?):\/\//i, "http$1://"));
  } catch {
    throw new ConfigError(`not a URL: "${raw}" (use e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(
      `unsupported control plane URL scheme ${url.protocol} (use http, https, ws or wss)`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

/** Where `podkit control-plane serve` keeps a generated admin token by default (same rule as the server). */
function defaultAdminTokenFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "podkit", "control-plane", "admin-token");
}

/** The admin token kept in FILE (`--admin-token-file`, PODKIT_ADMIN_TOKEN_FILE): one line, pka_…. */
export function readAdminTokenFile(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`cannot read the admin token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new ConfigError(`the admin token file ${file} is empty`);
  return token;
}

export function adminTokenFrom(flags: ApiFlags, env = process.env): string {
  const token = flags.adminToken ?? env.PODKIT_ADMIN_TOKEN;
  if (token) return token;
  if (env.PODKIT_ADMIN_TOKEN_FILE) return readAdminTokenFile(env.PODKIT_ADMIN_TOKEN_FILE);
  const file = defaultAdminTokenFile(env);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  throw new AuthError("no admin token: pass --admin-token or set PODKIT_ADMIN_TOKEN");
}

function errorFor(
  status: number,
  body: { error?: { code?: string; message?: string; details?: Record<string, unknown> } },
): PodkitError {
  const message = body.error?.message ?? `control plane answered HTTP ${status}`;
  // The catalogue says which code each API status stands for; 403 is the API's other "auth" and a
  // broken rule (422) is invalid input to a script.
  switch (status === 403 ? "E_AUTH" : status === 422 ? "E_INVALID_INPUT" : codeForHttpStatus(status)) {
    case "E_AUTH":
      return new AuthError(message);
    case "E_NOT_FOUND":
      return new NotFoundError(message, body.error?.details);
    case "E_CONFLICT":
      return new ConflictError(message, body.error?.details);
    case "E_INVALID_INPUT":
      return new ValidationError("request", [{ path: "", message }]);
    case "E_UNAVAILABLE":
      return new UnavailableError(message);
  }
  const code = body.error?.code;
  return new PodkitError(
    isErrorCode(code) && httpStatusOf(code) === status ? code : "E_CONTROL_PLANE",
    message,
  );
}

/** One JSON request to the control plane's API; HTTP errors become PodkitErrors with matching exit codes. */
export async function api<T>(flags: ApiFlags, method: string, path: string, body?: unknown): Promise<T> {
  const base = controlPlaneUrl(flags);
  const token = adminTokenFrom(flags);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UnavailableError(
      `cannot reach the control plane at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}; is \`podkit control-plane serve\` running?`,
      { cause: err },
    );
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    if (!res.ok) throw errorFor(res.status, { error: { message: text.slice(0, 200) } });
    throw new UnavailableError(
      `the control plane at ${base} sent something that is not JSON (is it a Podkit control plane?)`,
    );
  }
  if (!res.ok) throw errorFor(res.status, (parsed ?? {}) as Parameters<typeof errorFor>[1]);
  return parsed as T;
}

function msOption(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new ValidationError(flag, [{ path: flag, message: (err as Error).message }]);
  }
}

const SOURCE_RANK: readonly ConfigSource[] = ["flag", "env", "file", "default"];

/** `podkit control-plane serve` settings: one key per flag, `[control-plane]` in the file. */
export const ControlPlaneServeConfigSchema = z.object({
  listen: z.string().default("127.0.0.1:8080"),
  db: z.string().optional(),
  dataDir: z.string().optional(),
  adminToken: z.string().optional(),
  adminTokenFile: z.string().optional(),
  offlineAfter: z.string().default("60s"),
  sweepInterval: z.string().default("15s"),
  pingInterval: z.string().default("15s"),
  maxMaintenanceShare: z.union([z.number(), z.string()]).default(0.1),
  publicMetrics: z.boolean().default(false),
});

/** The flags of `serve` as commander hands them over (strings; `--public-metrics` a boolean). */
interface ServeFlags {
  config?: string;
  listen?: string;
  db?: string;
  dataDir?: string;
  adminToken?: string;
  adminTokenFile?: string;
  offlineAfter?: string;
  sweepInterval?: string;
  maxMaintenanceShare?: string;
  pingInterval?: string;
  publicMetrics?: boolean;
}

/**
 * What `serve` starts with: flags > PODKIT_CONTROL_PLANE_* (and PODKIT_ADMIN_TOKEN) > the
 * `[control-plane]` table of the config file > defaults; every value checked before anything opens.
 */
export function controlPlaneServeConfig(
  flags: Omit<ServeFlags, "config">,
  sources: ConfigSources = {},
): ControlPlaneOptions {
  const { config: c, sources: from } = commandConfig(
    ControlPlaneServeConfigSchema,
    {
      section: "control-plane",
      what: "control plane configuration",
      envAliases: { adminToken: ["PODKIT_ADMIN_TOKEN"], adminTokenFile: ["PODKIT_ADMIN_TOKEN_FILE"] },
    },
    flags,
    sources,
  );
  // The token itself and a file holding it: whichever comes from the stronger source (a token on a tie).
  const rank = (key: string) => SOURCE_RANK.indexOf(from[key] ?? "default");
  const adminToken =
    c.adminTokenFile !== undefined &&
    (c.adminToken === undefined || rank("adminTokenFile") < rank("adminToken"))
      ? readAdminTokenFile(c.adminTokenFile)
      : c.adminToken;
  const share = Number(c.maxMaintenanceShare);
  if (!(share > 0 && share <= 1)) {
    throw new ValidationError("--max-maintenance-share", [
      { path: "", message: "a ratio between 0 and 1, e.g. 0.1" },
    ]);
  }
  parseListen(c.listen, "--listen");
  return {
    listen: c.listen,
    ...(c.db ? { db: c.db } : {}),
    ...(c.dataDir ? { dataDir: c.dataDir } : {}),
    ...(adminToken ? { adminToken } : {}),
    offlineAfterMs: msOption(c.offlineAfter, "--offline-after"),
    sweepIntervalMs: msOption(c.sweepInterval, "--sweep-interval"),
    pingIntervalMs: msOption(c.pingInterval, "--ping-interval"),
    maxMaintenanceShare: share,
    publicMetrics: c.publicMetrics,
  };
}

export function registerControlPlaneCommands(program: Command, output: Output): void {
  const cp = program
    .command("control-plane")
    .description("the hub the host agents report to, with its API and dashboard");
  cp.command("serve")
    .description("run the control plane (API, agent WebSocket, dashboard at /, metrics at /metrics)")
    .option(
      "--config <file>",
      "TOML file, table [control-plane] (default ~/.config/podkit/config.toml, /etc/podkit/config.toml)",
    )
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .option("--db <file|url>", "SQLite file or postgres:// URL (default DATA_DIR/control-plane.sqlite)")
    .option(
      "--data-dir <dir>",
      "where the SQLite file and the generated admin token live (default ~/.local/share/podkit/control-plane)",
    )
    .option(
      "--admin-token <token>",
      "admin token (also PODKIT_ADMIN_TOKEN; default: kept in DATA_DIR/admin-token, generated on first start)",
    )
    .option("--offline-after <duration>", "a host without a message for this long is offline (default 60s)")
    .option(
      "--sweep-interval <duration>",
      "how often time-based rules are applied to every host (default 15s)",
    )
    .option(
      "--admin-token-file <file>",
      "read the admin token from FILE (also PODKIT_ADMIN_TOKEN_FILE): give every replica of one database the same",
    )
    .option(
      "--max-maintenance-share <ratio>",
      "maintenance above this share of 30 days is reported as excessive (default 0.1)",
    )
    .option(
      "--ping-interval <duration>",
      "ping every agent's WebSocket this often; one without a pong by the next ping is dropped as dead (default 15s)",
    )
    .option("--public-metrics", "serve /metrics without the admin token")
    .action(async (flags: ServeFlags, cmd: Command) => {
      const cfg = controlPlaneServeConfig(givenFlags(cmd), { configFile: flags.config });
      // Loaded here so that the API commands start without the server's database drivers.
      const { startControlPlane } = await import("@podkit/control-plane");
      const handle = await startControlPlane(cfg);
      output.out(`control plane listening on ${handle.url} (${handle.db})`);
      output.out(
        handle.adminTokenFile
          ? `admin token kept in ${handle.adminTokenFile} (export PODKIT_ADMIN_TOKEN=$(cat ${handle.adminTokenFile}))`
          : "admin token: the one given (--admin-token, --admin-token-file, PODKIT_ADMIN_TOKEN or PODKIT_ADMIN_TOKEN_FILE)",
      );
      if (handle.adminTokenFile && handle.db.startsWith("postgres"))
        output.out(
          `note: that token is this replica's own; replicas of one database need one shared token (--admin-token-file or PODKIT_ADMIN_TOKEN on each)`,
        );
      output.out(
        `dashboard: ${handle.url}/  agents: podkit agent run --control-plane ${handle.url} --token <podkit hosts enroll>`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      });
      await handle.close();
      if (signal === "SIGINT") process.exitCode = 130;
    });
}
