import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildArtifacts,
  clean,
  cleanArgv,
  copyExecutable,
  DEB,
  freePorts,
  NOBODY_UID,
  openDir,
  TARBALL,
  VERSION,
} from "./package/artifacts.js";
import { podkit, type Running } from "./transfer/cli.js";

// The release artifacts of `pnpm package`, used the way people get them: the single executable on
// a machine without Node.js, the .deb installed with dpkg, the npm tarball installed with npm alone.
const PASS = "package-e2e";
const asNobody = process.getuid?.() === 0;
const started: Running[] = [];

beforeAll(async () => {
  await buildArtifacts();
}, 600_000);

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill("SIGTERM");
  await Promise.all(started.map((p) => p.done));
});

function track(p: Running): Running {
  started.push(p);
  return p;
}

async function stop(p: Running, signal: NodeJS.Signals = "SIGTERM") {
  p.child.kill(signal);
  return p.done;
}

/** A directory the clean runs' user owns. */
function userDir(name: string): string {
  const dir = openDir(name, true);
  if (asNobody) chownSync(dir, NOBODY_UID, NOBODY_UID);
  return dir;
}

function payload(dir: string, name: string, size = 3 * 1024 * 1024 + 17): Buffer {
  const data = randomBytes(size);
  writeFileSync(join(dir, name), data, { mode: 0o644 });
  return data;
}

/** `relay`, `send` and `receive`, each started by `run`; the received file must equal the sent one. */
async function roundTrip(run: (args: string[], cwd: string) => Running) {
  const relay = track(
    run(["relay", "--host", "127.0.0.1", "--ports", "0,0,0,0,0", "--pass", PASS, "--json"], userDir("relay")),
  );
  const { address } = JSON.parse(await relay.waitForLine((l) => l.startsWith("{"), 30_000)) as {
    address: string;
  };
  const from = userDir("send");
  const to = userDir("receive");
  const data = payload(from, "weights.bin");
  const code = `7${randomBytes(2).toString("hex")}-package-e2e-${randomBytes(3).toString("hex")}`;
  const flags = ["--relay", address, "--relay-pass", PASS];
  const sender = track(run(["send", "weights.bin", "--code", code, ...flags], from));
  await sender.waitForLine((l) => l === code, 60_000);
  const receiver = track(run(["receive", code, "--yes", "--out", to, ...flags], to));
  const [s, r] = await Promise.all([sender.done, receiver.done]);
  await stop(relay);
  expect({ send: s.code, receive: r.code }, `${s.stderr}\n${r.stderr}`).toEqual({ send: 0, receive: 0 });
  expect(readFileSync(join(to, "weights.bin")).equals(data)).toBe(true);
}

describe("the single executable, on a machine without Node.js", () => {
  let exe: string;
  let other: string;
  beforeAll(() => {
    exe = copyExecutable("sea");
    other = copyExecutable("sea-copy");
  });

  it("prints its version", async () => {
    const r = await clean(exe, ["--version"], userDir("cwd")).done;
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it("prints the GPU catalog as JSON", async () => {
    const r = await clean(exe, ["gpus", "--json"], userDir("cwd")).done;
    expect(r.code, r.stderr).toBe(0);
    const gpus = JSON.parse(r.stdout) as Array<{ id: string }>;
    expect(gpus.map((g) => g.id)).toContain("NVIDIA H100 80GB HBM3");
  });

  it("sends a file to another copy of itself through its own relay", async () => {
    let n = 0;
    await roundTrip((args, cwd) => clean(n++ === 2 ? other : exe, args, cwd));
  });

  it("serves a volume that aws s3 cp writes to and reads from", async () => {
    const root = userDir("volumes");
    mkdirSync(join(root, "models"));
    if (asNobody) chownSync(join(root, "models"), NOBODY_UID, NOBODY_UID);
    const keys = {
      PODKIT_S3_ACCESS_KEY: "packagee2ekey",
      PODKIT_S3_SECRET_KEY: randomBytes(16).toString("hex"),
    };
    const gw = track(
      clean(exe, ["s3", "serve", "--root", root, "--listen", "127.0.0.1:0", "--json"], userDir("cwd"), keys),
    );
    const endpoint = /"endpoint": "([^"]+)"/.exec(
      await gw.waitForLine((l) => l.includes('"endpoint"'), 60_000),
    )![1]!;
    const local = mkdtempSync(join(tmpdir(), "podkit-aws-"));
    // Big enough for a multipart upload whose 8 MiB first part is hashed on the MD5 worker thread.
    const data = payload(local, "in.bin", 9 * 1024 * 1024 + 17);
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: keys.PODKIT_S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: keys.PODKIT_S3_SECRET_KEY,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONFIG_FILE: join(local, "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(local, "none"),
    };
    const aws = (...args: string[]) =>
      spawnSync("/usr/bin/aws", ["s3", ...args, "--endpoint-url", endpoint], { env, encoding: "utf8" });
    const put = aws("cp", join(local, "in.bin"), "s3://models/weights/in.bin");
    expect(put.status, put.stderr).toBe(0);
    const get = aws("cp", "s3://models/weights/in.bin", join(local, "out.bin"));
    expect(get.status, get.stderr).toBe(0);
    expect(readFileSync(join(local, "out.bin")).equals(data)).toBe(true);
    expect(readFileSync(join(root, "models/weights/in.bin")).equals(data)).toBe(true);
    const stopped = await stop(gw);
    expect(stopped.stderr).not.toMatch(/Error|Warning/);
  });

  it("runs the control plane on SQLite and enrols a host", async () => {
    const data = userDir("control-plane");
    const cp = track(
      clean(exe, ["control-plane", "serve", "--listen", "127.0.0.1:0", "--data-dir", data], data),
    );
    const url = /listening on (\S+)/.exec(
      await cp.waitForLine((l) => l.includes("listening on"), 60_000),
    )?.[1];
    const token = readFileSync(join(data, "admin-token"), "utf8").trim();
    const r = await clean(
      exe,
      ["hosts", "enroll", "--json", "--control-plane", url!, "--admin-token", token],
      data,
    ).done;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ token: expect.stringMatching(/^pke_/) });
    expect(cp.child.exitCode).toBe(null);
    const stopped = await stop(cp);
    expect(stopped.stderr).not.toMatch(/Error|Warning/);
    // The WAL checkpoint thread runs from its own file among the executable's files.
    expect(stopped.stderr).not.toMatch(/checkpoint thread stopped/);
  });

  it("brings the whole platform up, and the commands it prints work as printed", async () => {
    const [cpPort, s3Port, metricsPort, ...relayPorts] = await freePorts(8);
    const home = userDir("up");
    const up = track(
      clean(
        exe,
        [
          "up",
          "--data",
          join(home, "data"),
          "--control-plane-listen",
          `127.0.0.1:${cpPort}`,
          "--s3-listen",
          `127.0.0.1:${s3Port}`,
          "--metrics-listen",
          `127.0.0.1:${metricsPort}`,
          "--relay-ports",
          relayPorts.join(","),
          "--simulate",
        ],
        home,
      ),
    );
    let screen = "";
    up.child.stdout?.on("data", (d: Buffer) => {
      screen += d.toString();
    });
    await up.waitForLine((l) => l.includes("Ctrl-C stops everything"), 120_000);
    const commands = screen
      .slice(screen.indexOf("Try it"))
      .split("\n")
      .slice(1)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("xdg-open") && !l.startsWith("Ctrl-C"));
    expect(commands[0]).toMatch(/^export PODKIT_CONTROL_PLANE=/);
    // The commands exactly as printed, in a shell whose PATH has the AWS CLI and no node.
    const tools = openDir("tools");
    symlinkSync("/usr/bin/aws", join(tools, "aws"));
    writeFileSync(join(home, "README.md"), "hello from podkit up\n", { mode: 0o644 });
    const [shell, ...shellArgs] = cleanArgv(["/bin/bash", "-euo", "pipefail", "-c", ""], {
      PATH: tools,
      HOME: home,
    });
    const [exportLine, hostsList, ls, cp] = commands;
    shellArgs[shellArgs.length - 1] = [exportLine, hostsList, cp, ls].join("\n");
    const r = spawnSync(shell!, shellArgs, { cwd: home, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/README\.md/);
    expect(r.stdout.split("\n")[0]).toMatch(/HOST|host/i);
    const ended = await stop(up, "SIGINT");
    expect(ended.code, ended.stderr).toBe(0);
  });
});

describe("the Debian package", () => {
  const files = (root: string): string[] => {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.push(relative(root, p));
      }
    };
    walk(root);
    // dpkg's own database and log are not the package's files.
    return out.filter((f) => !f.startsWith("var/lib/dpkg/") && !f.startsWith("var/log/")).sort();
  };

  it("installs with dpkg, enrols the agent against a control plane, and is removed, leaving only its config and state", async () => {
    // A root of its own: dpkg installs there with its own database, and the maintainer scripts
    // act on DPKG_ROOT (the temporary root has no libc6 record, hence --force-depends).
    const root = mkdtempSync(join(tmpdir(), "podkit-deb-root-"));
    for (const d of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"]) {
      mkdirSync(join(root, d), { recursive: true });
    }
    writeFileSync(join(root, "var/lib/dpkg/status"), "");
    const dpkg = (...args: string[]) => {
      const r = spawnSync(
        "dpkg",
        [`--root=${root}`, "--force-script-chrootless", "--force-depends", ...args],
        {
          encoding: "utf8",
        },
      );
      expect(r.status, r.stderr).toBe(0);
      return r;
    };
    dpkg("-i", DEB);
    expect(files(root)).toEqual(["lib/systemd/system/podkit-agent.service", "usr/bin/podkit"]);
    const bin = join(root, "usr/bin/podkit");
    expect(spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout).toBe(`${VERSION}\n`);
    const shipped = readFileSync(join(root, "lib/systemd/system/podkit-agent.service"), "utf8");
    expect(shipped).toMatch(/^ExecStart=\/usr\/bin\/podkit agent run --config /m);

    // Enrolment: a control plane (this package's own program), a token, `podkit agent install`.
    const data = mkdtempSync(join(tmpdir(), "podkit-deb-cp-"));
    const cp = track(
      podkit([], { wrap: [bin, "control-plane", "serve", "--listen", "127.0.0.1:0", "--data-dir", data] }),
    );
    const url = /listening on (\S+)/.exec(
      await cp.waitForLine((l) => l.includes("listening on"), 60_000),
    )![1]!;
    const admin = [
      "--control-plane",
      url,
      "--admin-token",
      readFileSync(join(data, "admin-token"), "utf8").trim(),
    ];
    const enroll = spawnSync(bin, ["hosts", "enroll", "--json", ...admin], { encoding: "utf8" });
    const { token } = JSON.parse(enroll.stdout) as { token: string };
    const install = spawnSync(
      bin,
      ["agent", "install", "--root", root, "--control-plane", url, "--token", token],
      {
        encoding: "utf8",
      },
    );
    expect(install.status, install.stderr).toBe(0);
    const unit = readFileSync(join(root, "etc/systemd/system/podkit-agent.service"), "utf8");
    expect(unit).toMatch(
      /^ExecStart=\/usr\/bin\/podkit agent run --config \/etc\/podkit\/agent\.toml --state-dir \/var\/lib\/podkit\/agent$/m,
    );
    for (const file of [
      "lib/systemd/system/podkit-agent.service",
      "etc/systemd/system/podkit-agent.service",
    ]) {
      const v = spawnSync(
        "systemd-analyze",
        ["verify", "--man=no", "--recursive-errors=no", `--root=${root}`, join(root, file)],
        { encoding: "utf8" },
      );
      expect(v.status, `${file}: ${v.stderr}`).toBe(0);
    }
    // The agent as the unit runs it (paths under the temporary root), until the control plane lists it.
    const agent = track(
      podkit([], {
        wrap: [
          bin,
          "agent",
          "run",
          "--config",
          join(root, "etc/podkit/agent.toml"),
          "--state-dir",
          join(root, "var/lib/podkit/agent"),
          "--metrics-listen",
          "127.0.0.1:0",
          "--simulate",
          "rtx4090-8x",
        ],
      }),
    );
    let hosts: unknown[] = [];
    for (let i = 0; i < 120 && hosts.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const list = spawnSync(bin, ["hosts", "list", "--json", ...admin], { encoding: "utf8" });
      hosts = list.status === 0 ? (JSON.parse(list.stdout) as unknown[]) : [];
    }
    expect(hosts).toHaveLength(1);
    await stop(agent);
    await stop(cp);
    const state = files(root).filter((f) => f.startsWith("var/lib/podkit/agent/"));
    expect(state.length).toBeGreaterThan(0);

    // dpkg -r: program and units go; the config (it holds the host's token) and state stay.
    dpkg("-r", "podkit");
    expect(files(root)).toEqual(["etc/podkit/agent.toml", ...state].sort());
    // dpkg -P: the config goes too; the agent's state (outbox, credentials) is never removed.
    dpkg("-P", "podkit");
    expect(files(root)).toEqual(state);
    expect(existsSync(join(root, "etc/podkit"))).toBe(false);
  });
});

describe("the npm package", () => {
  let prefix: string;
  let bin: string;
  beforeAll(() => {
    prefix = mkdtempSync(join(tmpdir(), "podkit-npm-prefix-"));
    const npmCache = mkdtempSync(join(tmpdir(), "podkit-npm-cache-"));
    const r = spawnSync(
      "npm",
      ["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", TARBALL],
      {
        encoding: "utf8",
        env: { ...process.env, npm_config_cache: npmCache, npm_config_update_notifier: "false" },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    bin = join(prefix, "bin/podkit");
    rmSync(npmCache, { recursive: true, force: true });
  }, 300_000);
  afterAll(() => rmSync(prefix, { recursive: true, force: true }));

  it("installs with npm alone and sends a file through its own relay", async () => {
    const v = spawnSync(bin, ["--version"], { encoding: "utf8" });
    expect(v.stdout).toBe(`${VERSION}\n`);
    await roundTrip((args, cwd) => podkit([], { cwd, wrap: [bin, ...args] }));
  });

  it("keeps one code cache per set of Node flags: S3 workers started with their own neither reject nor replace the CLI's", () => {
    const cacheHome = mkdtempSync(join(tmpdir(), "podkit-code-cache-"));
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome };
    delete env.NODE_OPTIONS;
    // As the shebang starts it, and as the S3 supervisor starts a worker (its flags + a young generation size).
    const plain = () => spawnSync(bin, ["--help"], { encoding: "utf8", env });
    const worker = () =>
      spawnSync(process.execPath, ["--expose-gc", "--max-semi-space-size=2", bin, "--help"], {
        encoding: "utf8",
        env,
      });
    const caches = () => {
      const dir = join(cacheHome, "podkit");
      const found = new Map<string, string>();
      for (const build of readdirSync(dir))
        for (const name of readdirSync(join(dir, build)))
          if (name.endsWith(".cache"))
            found.set(
              name,
              createHash("sha256")
                .update(readFileSync(join(dir, build, name)))
                .digest("hex"),
            );
      return found;
    };
    expect(plain().status).toBe(0);
    const first = caches();
    expect(first.size).toBe(1);
    expect(worker().status).toBe(0);
    const both = caches();
    expect(both.size).toBe(2);
    // The first run's cache is untouched by the worker, and accepted (so not rewritten) on the next plain run.
    for (const [name, hash] of first) expect(both.get(name)).toBe(hash);
    expect(plain().status).toBe(0);
    expect(worker().status).toBe(0);
    expect(caches()).toEqual(both);
    rmSync(cacheHome, { recursive: true, force: true });
  });
});
