import { defaultConfigPaths, type LoadConfigOptions, loadConfig } from "@podkit/core";
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

export interface CommandConfigOptions {
  /** The config file's table and the infix of the variables: `[s3]`, `PODKIT_S3_…`. */
  section: string;
  what: string;
  /** Options typed on the command line (`givenFlags`), under the schema's keys. */
  flags: Record<string, unknown>;
  /** `--config FILE`; without it the first of ~/.config/podkit/config.toml, /etc/podkit/config.toml. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  envAliases?: LoadConfigOptions["envAliases"];
  /** Where to look without `--config` (default: core's search paths). */
  searchPaths?: string[];
}

/** A long-running command's settings: flags > `PODKIT_*` environment > TOML file > defaults. */
export function commandConfig<S extends z.ZodObject>(schema: S, options: CommandConfigOptions): z.output<S> {
  return loadConfig(schema, {
    section: options.section,
    what: options.what,
    flags: options.flags,
    env: options.env ?? process.env,
    ...(options.envAliases ? { envAliases: options.envAliases } : {}),
    ...(options.configFile
      ? { configFile: options.configFile }
      : { searchPaths: options.searchPaths ?? defaultConfigPaths() }),
  }).config;
}
