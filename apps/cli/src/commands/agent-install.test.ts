import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isPodkitError } from "@podkit/core";
import * as hostAgent from "@podkit/host-agent";
import { afterEach, describe, expect, it } from "vitest";
import type { Output } from "../output.js";
import { install, uninstall } from "./agent-install.js";

const EXEC = "/usr/bin/podkit";
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A machine's root with the usual /etc and /var/lib, and a file of its own in /etc. */
function machine(): string {
  const root = mkdtempSync(join(tmpdir(), "podkit-install-"));
  roots.push(root);
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  mkdirSync(join(root, "var/lib"), { recursive: true });
  writeFileSync(join(root, "etc/hostname"), "gpu-7\n");
  return root;
}

/** Every path under `root`, for before/after comparisons. */
function tree(root: string, dir = ""): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [`${p}/`, ...tree(root, p)] : [p];
  });
}

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  return { out: (t) => lines.push(t), err: (t) => lines.push(t), text: () => lines.join("\n") };
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}

const noSystemd = { running: false };
const flags = (root: string, more: Partial<Parameters<typeof install>[1]> = {}) => ({
  root,
  enable: true,
  execStart: EXEC,
  controlPlane: "http://127.0.0.1:8080",
  token: "pke_first",
  ...more,
});

describe("podkit agent install / uninstall", () => {
  it("without systemd: writes the files, says systemd is not running and the command to start the agent, exit 7", () => {
    const root = machine();
    const out = capture();
    const err = thrown(() => install(hostAgent, flags(root), noSystemd, out));
    expect(isPodkitError(err) && err.exitCode).toBe(7);
    expect((err as Error).message).toContain("systemd is not running on this machine");
    expect((err as Error).message).toContain(
      `  ${EXEC} agent run --config /etc/podkit/agent.toml --state-dir /var/lib/podkit/agent`,
    );
    expect(out.text()).toBe(
      `wrote ${root}/etc/systemd/system/podkit-agent.service\nwrote ${root}/etc/podkit/agent.toml`,
    );
    expect(statSync(join(root, "etc/podkit/agent.toml")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, "etc/podkit/agent.toml"), "utf8")).toContain('token = "pke_first"');
  });

  it("uninstall --purge without systemd removes all install made, its new directories too, and nothing else", () => {
    const root = machine();
    const before = tree(root);
    thrown(() => install(hostAgent, flags(root), noSystemd, capture()));
    // What the running agent writes into its state directory goes as well.
    writeFileSync(join(root, "var/lib/podkit/agent/credentials.json"), "{}");
    const out = capture();
    uninstall(hostAgent, { root, disable: true, purge: true }, noSystemd, out);
    expect(tree(root)).toEqual(before);
    expect(out.text()).toBe(
      [
        `removed ${root}/etc/systemd/system/podkit-agent.service`,
        `removed ${root}/etc/podkit/agent.toml`,
        `removed ${root}/var/lib/podkit/agent`,
        `removed ${root}/var/lib/podkit`,
        `removed ${root}/etc/podkit`,
        "systemd is not running: stop a `podkit agent run` you started yourself",
      ].join("\n"),
    );
  });

  it("uninstall --purge keeps a directory that was there before, or holds someone else's file", () => {
    const root = machine();
    mkdirSync(join(root, "var/lib/podkit"));
    thrown(() => install(hostAgent, flags(root), noSystemd, capture()));
    writeFileSync(join(root, "etc/podkit/s3-credentials.toml"), "[[credentials]]\n");
    const out = capture();
    uninstall(hostAgent, { root, disable: false, purge: true }, noSystemd, out);
    expect(tree(root).filter((p) => p.includes("podkit"))).toEqual([
      "etc/podkit/",
      "etc/podkit/s3-credentials.toml",
      "var/lib/podkit/",
    ]);
    expect(out.text()).toContain(`kept ${root}/etc/podkit: it holds files install did not write`);
  });

  it("re-installing with a new token replaces it in agent.toml, keeps the other settings, and says so", () => {
    const root = machine();
    thrown(() => install(hostAgent, flags(root), noSystemd, capture()));
    const config = join(root, "etc/podkit/agent.toml");
    writeFileSync(config, `${readFileSync(config, "utf8")}gpuIntervalSeconds = 5\n`);
    const out = capture();
    thrown(() => install(hostAgent, flags(root, { token: "pke_second" }), noSystemd, out));
    const text = readFileSync(config, "utf8");
    expect(text).toContain('token = "pke_second"');
    expect(text).not.toContain("pke_first");
    expect(text).toContain("gpuIntervalSeconds = 5");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(out.text()).toContain(`replaced token in ${config} (the other settings stay)`);
    expect(out.text()).not.toContain("pke_second");
    // The same values again: nothing to replace.
    const again = capture();
    install(hostAgent, flags(root, { token: "pke_second", enable: false }), noSystemd, again);
    expect(again.text()).toContain(`kept existing ${config}`);
  });

  it("with systemd: enables and starts the unit, and stops it before removing it", () => {
    const root = machine();
    const calls: string[] = [];
    const systemd = { running: true, systemctl: (...a: string[]) => void calls.push(a.join(" ")) };
    const out = capture();
    install(hostAgent, flags(root), systemd, out);
    expect(out.text()).toContain("enabled and started podkit-agent.service");
    uninstall(hostAgent, { root, disable: true, purge: false }, systemd, capture());
    expect(calls).toEqual([
      "daemon-reload",
      "enable --now podkit-agent.service",
      "disable --now podkit-agent.service",
      "daemon-reload",
    ]);
    expect(readdirSync(join(root, "etc/podkit"))).toEqual(["agent.toml"]);
  });
});
