import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { ConfigError } from "./errors/index.js";
import { parseWith } from "./validate.js";

/**
 * One precedence everywhere: flags > environment (`PODKIT_*`) > config file > defaults.
 * The config file is the first of `--config FILE`, `~/.config/podkit/config.toml` and
 * `/etc/podkit/config.toml` that exists. Keys are camelCase in TOML and flags, and
 * UPPER_SNAKE_CASE after `PODKIT_` (plus the section, if any) in the environment:
 * `adminToken` ↔ `PODKIT_ADMIN_TOKEN`; in section `s3`, `accessKey` ↔ `PODKIT_S3_ACCESS_KEY`
 * and `[s3] accessKey = "…"` in the file; in section `control-plane`, `dataDir` ↔
 * `PODKIT_CONTROL_PLANE_DATA_DIR` and `[control-plane] dataDir = "…"`.
 */
export type ConfigSource = "flag" | "env" | "file" | "default";

export interface LoadConfigOptions {
  /** Table in the config file and infix in the variable names, e.g. "s3" or "agent". */
  section?: string;
  /** Parsed command-line flags; undefined values count as "not given". */
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** An explicit config file (from `--config`); it must exist. */
  configFile?: string;
  /** Files to look in when no explicit one is given; the first that exists is used. */
  searchPaths?: string[];
  /** What the config is for, used in error messages. */
  what?: string;
  /**
   * Older variable names still read for a key, after its own `PODKIT_<SECTION>_<KEY>`
   * (e.g. `adminToken: ["PODKIT_ADMIN_TOKEN"]`), so renaming a variable breaks no deployment.
   */
  envAliases?: Record<string, readonly string[]>;
}

export interface LoadedConfig<T> {
  config: T;
  sources: Record<string, ConfigSource>;
  file: string | null;
}

export function defaultConfigPaths(home = homedir()): string[] {
  return [join(home, ".config", "podkit", "config.toml"), "/etc/podkit/config.toml"];
}

/** `adminToken` → `PODKIT_ADMIN_TOKEN`; in section `control-plane`, `PODKIT_CONTROL_PLANE_ADMIN_TOKEN`. */
export function envNameFor(key: string, section?: string): string {
  const snake = key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  return section ? `PODKIT_${section.replace(/-/g, "_").toUpperCase()}_${snake}` : `PODKIT_${snake}`;
}

type ZodInternals = { _zod?: { def?: { type?: string; innerType?: unknown } } };

function baseType(schema: unknown): string | undefined {
  let current = schema as ZodInternals | undefined;
  for (let i = 0; i < 8 && current; i++) {
    const def = current._zod?.def;
    if (!def) return undefined;
    if (
      def.type === "optional" ||
      def.type === "default" ||
      def.type === "nullable" ||
      def.type === "prefault"
    ) {
      current = def.innerType as ZodInternals;
      continue;
    }
    return def.type;
  }
  return undefined;
}

/** Environment values are text; turn them into what the schema expects, so `PODKIT_PORT=9000` is a number. */
function coerceEnv(value: string, fieldSchema: unknown, name: string): unknown {
  switch (baseType(fieldSchema)) {
    case "number": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n))
        throw new ConfigError(`${name}="${value}" is not a number`);
      return n;
    }
    case "boolean": {
      const v = value.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw new ConfigError(`${name}="${value}" is not a boolean (use true or false)`);
    }
    case "array":
      return value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return value;
  }
}

function readConfigFile(path: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid TOML: ${(err as Error).message}`, { cause: err });
  }
}

export function loadConfig<S extends z.ZodObject>(
  schema: S,
  options: LoadConfigOptions = {},
): LoadedConfig<z.output<S>> {
  const env = options.env ?? process.env;
  const shape = schema.shape as Record<string, unknown>;
  const merged: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};

  let file: string | null = null;
  let fileValues: Record<string, unknown> | null = null;
  if (options.configFile) {
    fileValues = readConfigFile(options.configFile, true);
    file = options.configFile;
  } else {
    for (const candidate of options.searchPaths ?? defaultConfigPaths()) {
      fileValues = readConfigFile(candidate, false);
      if (fileValues) {
        file = candidate;
        break;
      }
    }
  }
  if (fileValues && options.section) {
    const table = fileValues[options.section];
    fileValues = table && typeof table === "object" ? (table as Record<string, unknown>) : {};
  }

  for (const key of Object.keys(shape)) {
    const flag = options.flags?.[key];
    const envName = [envNameFor(key, options.section), ...(options.envAliases?.[key] ?? [])].find(
      (name) => env[name] !== undefined && env[name] !== "",
    );
    const envValue = envName === undefined ? undefined : env[envName];
    if (flag !== undefined) {
      merged[key] = flag;
      sources[key] = "flag";
    } else if (envName !== undefined && envValue !== undefined) {
      merged[key] = coerceEnv(envValue, shape[key], envName);
      sources[key] = "env";
    } else if (fileValues && fileValues[key] !== undefined) {
      merged[key] = fileValues[key];
      sources[key] = "file";
    } else {
      sources[key] = "default";
    }
  }
  const what = options.what ?? (options.section ? `${options.section} configuration` : "configuration");
  return {
    config: parseWith(schema, merged, file ? `${what} (from ${file}, environment and flags)` : what),
    sources,
    file,
  };
}
