import { defaultConfigPaths, type LoadConfigOptions, type LoadedConfig, loadConfig } from "@podkit/core";
import type { Command } from "commander";
import type { z } from "zod";

/**
 * The options the user typed on the command line, by attribute name. Commander also fills in
 * defaults and the `true` of every `--no-x`; those must not beat the environment or the file.
 */
export function givenFlags(cmd: Command): Record<string, unknown> {
  const values = cmd.opts();
  const given: Record<string, unknown> = {};
  for (const option of cmd.options) {
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) === "cli") given[key] = values[key];
  }
  return given;
}

/** A command's table in the config file and its variables' infix: `[s3]`, `PODKIT_S3_…`. */
export interface ConfigTable {
  section: string;
  what: string;
  envAliases?: LoadConfigOptions["envAliases"];
}

/** Where settings come from besides the flags; tests give their own environment and files. */
export interface ConfigSources {
  /** `--config FILE`; without it the first of ~/.config/podkit/config.toml, /etc/podkit/config.toml. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where to look without `--config` (default: core's search paths). */
  searchPaths?: string[];
}

/** A long-running command's settings (and where each came from): flags (`givenFlags`) > `PODKIT_*` environment > TOML file > defaults. */
export function commandConfig<S extends z.ZodObject>(
  schema: S,
  table: ConfigTable,
  flags: Record<string, unknown>,
  sources: ConfigSources = {},
): LoadedConfig<z.output<S>> {
  return loadConfig(schema, {
    ...table,
    flags,
    env: sources.env ?? process.env,
    ...(sources.configFile
      ? { configFile: sources.configFile }
      : { searchPaths: sources.searchPaths ?? defaultConfigPaths() }),
  });
}
