import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, envNameFor } from "@podkit/core";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { agentConfig } from "./commands/agent.js";
import { ControlPlaneServeConfigSchema, controlPlaneServeConfig } from "./commands/control-plane.js";
import { S3ServeConfigSchema, s3ServeConfig } from "./commands/s3.js";
import { RelayConfigSchema, relayConfig } from "./commands/transfer.js";
import { givenFlags } from "./config.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "podkit-serve-config-"));

function toml(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

// Every long-running command: flags > PODKIT_* environment > TOML file (--config) > defaults.
describe("podkit control-plane serve configuration", () => {
  const file = toml(
    "cp.toml",
    '[control-plane]\nlisten = "127.0.0.1:7001"\ndb = "/file.sqlite"\nofflineAfter = "2m"\nmaxMaintenanceShare = 0.2\npublicMetrics = true\n',
  );

  it("takes defaults when nothing is given", () => {
    expect(controlPlaneServeConfig({}, { env: {}, searchPaths: [] })).toEqual({
      listen: "127.0.0.1:8080",
      offlineAfterMs: 60_000,
      sweepIntervalMs: 15_000,
      pingIntervalMs: 15_000,
      maxMaintenanceShare: 0.1,
      publicMetrics: false,
    });
  });

  it("ranks flags over the environment over the file over defaults", () => {
    const fromFile = controlPlaneServeConfig({}, { configFile: file, env: {} });
    expect(fromFile).toMatchObject({
      listen: "127.0.0.1:7001",
      db: "/file.sqlite",
      offlineAfterMs: 120_000,
      maxMaintenanceShare: 0.2,
      publicMetrics: true,
      sweepIntervalMs: 15_000,
    });
    const env = { PODKIT_CONTROL_PLANE_LISTEN: "127.0.0.1:7002", PODKIT_CONTROL_PLANE_OFFLINE_AFTER: "90s" };
    expect(controlPlaneServeConfig({}, { configFile: file, env })).toMatchObject({
      listen: "127.0.0.1:7002",
      offlineAfterMs: 90_000,
      db: "/file.sqlite",
    });
    expect(controlPlaneServeConfig({ listen: "127.0.0.1:7003" }, { configFile: file, env })).toMatchObject({
      listen: "127.0.0.1:7003",
      offlineAfterMs: 90_000,
    });
  });

  it("keeps the variables it read before: PODKIT_CONTROL_PLANE_DB, _DATA_DIR and PODKIT_ADMIN_TOKEN", () => {
    const env = {
      PODKIT_CONTROL_PLANE_DB: "postgres://db/podkit",
      PODKIT_CONTROL_PLANE_DATA_DIR: "/var/lib/cp",
      PODKIT_ADMIN_TOKEN: "pka_env",
    };
    expect(controlPlaneServeConfig({}, { env, searchPaths: [] })).toMatchObject({
      db: "postgres://db/podkit",
      dataDir: "/var/lib/cp",
      adminToken: "pka_env",
    });
    expect(controlPlaneServeConfig({ adminToken: "pka_flag" }, { env, searchPaths: [] }).adminToken).toBe(
      "pka_flag",
    );
  });

  it("reads the admin token from --admin-token-file / PODKIT_ADMIN_TOKEN_FILE, a token given beside it at the same level winning", () => {
    const tokenFile = join(work, "admin-token");
    writeFileSync(tokenFile, "pka_from_file\n", { mode: 0o600 });
    const none = { env: {}, searchPaths: [] };
    expect(controlPlaneServeConfig({ adminTokenFile: tokenFile }, none).adminToken).toBe("pka_from_file");
    expect(
      controlPlaneServeConfig({}, { env: { PODKIT_ADMIN_TOKEN_FILE: tokenFile }, searchPaths: [] })
        .adminToken,
    ).toBe("pka_from_file");
    expect(
      controlPlaneServeConfig(
        { adminTokenFile: tokenFile },
        { env: { PODKIT_ADMIN_TOKEN: "pka_env" }, searchPaths: [] },
      ).adminToken,
    ).toBe("pka_from_file");
    expect(
      controlPlaneServeConfig(
        {},
        { env: { PODKIT_ADMIN_TOKEN: "pka_env", PODKIT_ADMIN_TOKEN_FILE: tokenFile }, searchPaths: [] },
      ).adminToken,
    ).toBe("pka_env");
  });

  it("refuses a listen address that is not host:port instead of falling back to port 8080", () => {
    expect(() => controlPlaneServeConfig({ listen: "nonsense" }, { env: {}, searchPaths: [] })).toThrow(
      ConfigError,
    );
    expect(() =>
      controlPlaneServeConfig({}, { env: { PODKIT_CONTROL_PLANE_LISTEN: "nonsense" }, searchPaths: [] }),
    ).toThrow('--listen "nonsense" is not host:port');
    const r = spawnSync(
      process.execPath,
      [MAIN, "control-plane", "serve", "--listen", "nonsense", "--data-dir", join(work, "cp-data")],
      { encoding: "utf8", timeout: 20_000, env: { ...process.env, HOME: work } },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--listen "nonsense" is not host:port');
  });

  it("refuses a maintenance share outside (0, 1] wherever it comes from", () => {
    expect(() =>
      controlPlaneServeConfig(
        {},
        { configFile: toml("share.toml", "[control-plane]\nmaxMaintenanceShare = 2\n"), env: {} },
      ),
    ).toThrow(/a ratio between 0 and 1/);
  });
});

describe("podkit s3 serve configuration", () => {
  const root = join(work, "volumes");
  mkdirSync(root, { recursive: true });
  const file = toml(
    "s3.toml",
    `[s3]\nroot = "${root}"\nlisten = "127.0.0.1:7101"\nregion = "eu-ro-1"\naccessLog = false\nworkers = 3\nidleTimeout = 5\n`,
  );

  it("ranks flags over the environment over the file over defaults", () => {
    const fromFile = s3ServeConfig({}, { configFile: file, env: {} });
    expect(fromFile.options).toMatchObject({
      root,
      listen: "127.0.0.1:7101",
      region: "eu-ro-1",
      accessLog: false,
      idleTimeoutMs: 5000,
      metadata: "auto",
    });
    expect(fromFile.workers).toBe(3);
    expect(fromFile.drainMs).toBe(10_000);
    const env = { PODKIT_S3_LISTEN: "127.0.0.1:7102", PODKIT_S3_WORKERS: "2", PODKIT_S3_ACCESS_LOG: "true" };
    const fromEnv = s3ServeConfig({}, { configFile: file, env });
    expect(fromEnv.options.listen).toBe("127.0.0.1:7102");
    expect(fromEnv.options.accessLog).toBeUndefined();
    expect(fromEnv.workers).toBe(2);
    const fromFlags = s3ServeConfig({ listen: "127.0.0.1:7103", workers: "1" }, { configFile: file, env });
    expect(fromFlags.options.listen).toBe("127.0.0.1:7103");
    expect(fromFlags.workers).toBe(1);
  });

  it("needs a root from somewhere, and checks values from the file as it checks flags", () => {
    expect(() => s3ServeConfig({}, { env: {}, searchPaths: [] })).toThrow(
      /no volumes directory: give --root DIR/,
    );
    expect(() =>
      s3ServeConfig({ root }, { configFile: toml("w.toml", "[s3]\nworkers = 0\n"), env: {} }),
    ).toThrow("--workers must be a whole number from 1 to 1024");
    expect(() => s3ServeConfig({ root, metricsListen: "9102:x" }, { env: {}, searchPaths: [] })).toThrow(
      '--metrics-listen "9102:x" is not host:port',
    );
  });

  it("does not let commander's implicit --no-access-log default beat the file", () => {
    const cmd = new Command().exitOverride().option("--no-access-log").option("--listen <addr>");
    cmd.parse([], { from: "user" });
    expect(cmd.opts()).toEqual({ accessLog: true });
    expect(givenFlags(cmd)).toEqual({});
    cmd.parse(["--no-access-log", "--listen", ":1"], { from: "user" });
    expect(givenFlags(cmd)).toEqual({ accessLog: false, listen: ":1" });
  });
});

describe("podkit relay configuration", () => {
  const file = toml("relay.toml", '[relay]\nhost = "127.0.0.1"\nports = [7201, 7202]\npass = "from-file"\n');

  it("ranks flags over the environment over the file over defaults", () => {
    expect(relayConfig({}, { env: {}, searchPaths: [] })).toEqual({
      host: "0.0.0.0",
      ports: [9009, 9010, 9011, 9012, 9013],
      pass: "pass123",
    });
    expect(relayConfig({}, { configFile: file, env: {} })).toEqual({
      host: "127.0.0.1",
      ports: [7201, 7202],
      pass: "from-file",
    });
    const env = { PODKIT_RELAY_PORTS: "7301,7302,7303", CROC_PASS: "croc" };
    expect(relayConfig({}, { configFile: file, env })).toEqual({
      host: "127.0.0.1",
      ports: [7301, 7302, 7303],
      pass: "croc",
    });
    expect(relayConfig({}, { configFile: file, env: { ...env, PODKIT_RELAY_PASS: "podkit" } }).pass).toBe(
      "podkit",
    );
    expect(relayConfig({ ports: "7401,7402", pass: "flag" }, { configFile: file, env })).toEqual({
      host: "127.0.0.1",
      ports: [7401, 7402],
      pass: "flag",
    });
  });

  it("refuses fewer than two ports from the file too", () => {
    expect(() =>
      relayConfig({}, { configFile: toml("one.toml", "[relay]\nports = [7201]\n"), env: {} }),
    ).toThrow(/at least two ports/);
  });
});

describe("podkit agent run configuration", () => {
  const file = toml("agent.toml", '[agent]\nmetricsListen = "127.0.0.1:7501"\ngpuIntervalSeconds = 5\n');

  it("ranks flags over the environment over the file over defaults", async () => {
    expect((await agentConfig({}, { env: {}, searchPaths: [] })).metricsListen).toBe("127.0.0.1:9101");
    expect(await agentConfig({ config: file }, { env: {} })).toMatchObject({
      metricsListen: "127.0.0.1:7501",
      gpuIntervalSeconds: 5,
    });
    const env = { PODKIT_AGENT_METRICS_LISTEN: "127.0.0.1:7502" };
    expect((await agentConfig({ config: file }, { env })).metricsListen).toBe("127.0.0.1:7502");
    expect(
      (await agentConfig({ config: file, metricsListen: "127.0.0.1:7503" }, { env })).metricsListen,
    ).toBe("127.0.0.1:7503");
  });
});

describe("docs/configuration.md", () => {
  const doc = readFileSync(fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url)), "utf8");

  /** The rows of the table under the heading that names `table`: TOML key → environment cell. */
  function rows(table: string): Map<string, string> {
    const start = doc.indexOf(`(table \`[${table}]\``);
    const end = doc.indexOf("\n## ", start + 1);
    const out = new Map<string, string>();
    for (const line of doc.slice(start, end === -1 ? undefined : end).split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      const key = /^`(\w+)`/.exec(cells[4] ?? "")?.[1];
      if (key) out.set(key, cells[3] ?? "");
    }
    return out;
  }

  it("has one row per setting of each command, with its variable", async () => {
    const { AgentConfigSchema } = await import("@podkit/host-agent");
    const tables = [
      ["control-plane", ControlPlaneServeConfigSchema],
      ["s3", S3ServeConfigSchema],
      ["relay", RelayConfigSchema],
      ["agent", AgentConfigSchema],
    ] as const;
    for (const [table, schema] of tables) {
      const documented = rows(table);
      expect([...documented.keys()].sort(), table).toEqual(Object.keys(schema.shape).sort());
      for (const [key, env] of documented)
        expect(env, `${table}.${key}`).toContain(`\`${envNameFor(key, table)}\``);
    }
  });
});
