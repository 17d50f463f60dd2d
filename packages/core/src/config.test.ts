import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { envNameFor, loadConfig } from "./config.js";
import { ConfigError, ValidationError } from "./errors/index.js";

const schema = z.object({
  listen: z.string().default("127.0.0.1:9000"),
  region: z.string().default("us-east-1"),
  workers: z.number().int().positive().default(4),
  verbose: z.boolean().default(false),
  volumes: z.array(z.string()).default([]),
});

function configDir(toml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "podkit-config-"));
  writeFileSync(join(dir, "config.toml"), toml);
  return join(dir, "config.toml");
}

describe("loadConfig precedence", () => {
  const file = configDir(
    '[s3]\nlisten = "0.0.0.0:9100"\nregion = "eu-ro-1"\nworkers = 8\n[agent]\nlisten = "elsewhere"\n',
  );

  it("uses defaults when nothing else is given", () => {
    const { config, sources, file: used } = loadConfig(schema, { section: "s3", env: {}, searchPaths: [] });
    expect(config).toEqual({
      listen: "127.0.0.1:9000",
      region: "us-east-1",
      workers: 4,
      verbose: false,
      volumes: [],
    });
    expect(sources.listen).toBe("default");
    expect(used).toBeNull();
  });

  it("file beats defaults, env beats file, flags beat env", () => {
    const { config, sources } = loadConfig(schema, {
      section: "s3",
      searchPaths: [file],
      env: { PODKIT_S3_REGION: "us-ks-2", PODKIT_S3_LISTEN: "127.0.0.1:1", PODKIT_S3_WORKERS: "16" },
      flags: { listen: "127.0.0.1:2", region: undefined },
    });
    expect(config.listen).toBe("127.0.0.1:2");
    expect(sources.listen).toBe("flag");
    expect(config.region).toBe("us-ks-2");
    expect(sources.region).toBe("env");
    expect(config.workers).toBe(16);
    expect(sources.workers).toBe("env");
    expect(config.verbose).toBe(false);
    expect(sources.verbose).toBe("default");
  });

  it("reads only its own section of the file", () => {
    const { config } = loadConfig(schema, { section: "s3", searchPaths: [file], env: {} });
    expect(config.listen).toBe("0.0.0.0:9100");
    expect(config.workers).toBe(8);
  });

  it("takes the first config file that exists", () => {
    const other = configDir('[s3]\nregion = "second"\n');
    const { config, file: used } = loadConfig(schema, {
      section: "s3",
      searchPaths: ["/nonexistent/podkit.toml", other, file],
      env: {},
    });
    expect(config.region).toBe("second");
    expect(used).toBe(other);
  });

  it("coerces environment text into booleans, numbers and lists", () => {
    const { config } = loadConfig(schema, {
      section: "s3",
      searchPaths: [],
      env: { PODKIT_S3_VERBOSE: "yes", PODKIT_S3_VOLUMES: "vol-a, vol-b" },
    });
    expect(config.verbose).toBe(true);
    expect(config.volumes).toEqual(["vol-a", "vol-b"]);
  });

  it("says which variable is wrong when env text does not fit", () => {
    expect(() =>
      loadConfig(schema, { section: "s3", searchPaths: [], env: { PODKIT_S3_WORKERS: "many" } }),
    ).toThrowError(new ConfigError('PODKIT_S3_WORKERS="many" is not a number'));
  });

  it("rejects an invalid value from the file with the field named", () => {
    const bad = configDir("[s3]\nworkers = -3\n");
    try {
      loadConfig(schema, { section: "s3", searchPaths: [bad], env: {} });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).code).toBe("E_INVALID_INPUT");
      expect((err as Error).message).toMatch(
        /^invalid s3 configuration \(from .*config\.toml.*\): workers: /,
      );
    }
  });

  it("reports a broken TOML file with its path", () => {
    const broken = configDir("[s3\nlisten =");
    expect(() => loadConfig(schema, { section: "s3", configFile: broken, env: {} })).toThrow(
      /config file .*config\.toml is not valid TOML/,
    );
  });

  it("fails when an explicit --config file is missing", () => {
    expect(() => loadConfig(schema, { configFile: "/nonexistent/x.toml", env: {} })).toThrow(
      /cannot read config file \/nonexistent\/x\.toml/,
    );
  });

  it("names environment variables predictably", () => {
    expect(envNameFor("adminToken")).toBe("PODKIT_ADMIN_TOKEN");
    expect(envNameFor("accessKey", "s3")).toBe("PODKIT_S3_ACCESS_KEY");
    expect(envNameFor("controlPlane")).toBe("PODKIT_CONTROL_PLANE");
  });

  it("names a hyphenated section's variables with underscores (table [control-plane])", () => {
    expect(envNameFor("dataDir", "control-plane")).toBe("PODKIT_CONTROL_PLANE_DATA_DIR");
    const file = configDir('[control-plane]\nlisten = "0.0.0.0:8081"\n');
    const { config, sources } = loadConfig(schema, {
      section: "control-plane",
      configFile: file,
      env: { PODKIT_CONTROL_PLANE_REGION: "eu-ro-1" },
    });
    expect(config.listen).toBe("0.0.0.0:8081");
    expect(config.region).toBe("eu-ro-1");
    expect(sources).toMatchObject({ listen: "file", region: "env" });
  });

  it("still reads an older variable name, after the key's own one", () => {
    const aliases = { region: ["OLD_REGION"] };
    const old = loadConfig(schema, {
      section: "s3",
      env: { OLD_REGION: "old" },
      envAliases: aliases,
      searchPaths: [],
    });
    expect(old.config.region).toBe("old");
    expect(old.sources.region).toBe("env");
    const both = loadConfig(schema, {
      section: "s3",
      env: { OLD_REGION: "old", PODKIT_S3_REGION: "new" },
      envAliases: aliases,
      searchPaths: [],
    });
    expect(both.config.region).toBe("new");
  });
});
