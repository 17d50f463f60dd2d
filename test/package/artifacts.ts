import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { podkit, type Running } from "../transfer/cli.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const VERSION = (
  JSON.parse(readFileSync(join(REPO, "apps/cli/package.json"), "utf8")) as { version: string }
).version;
export const RELEASE = join(REPO, "dist/release");
export const EXECUTABLE = join(RELEASE, `podkit-${VERSION}-linux-x64`);
export const DEB = join(RELEASE, `podkit_${VERSION}_amd64.deb`);
export const TARBALL = join(RELEASE, `podkit-${VERSION}.tgz`);

/**
 * `pnpm package` after `pnpm build`: the artifacts under dist/release/. Asynchronous: a minute of
 * a blocked event loop would cut the test runner's own messages off.
 */
export async function buildArtifacts(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(REPO, "scripts/package.mjs")], {
    maxBuffer: 16 << 20,
  });
}

/** A directory anyone may read and enter, optionally writable by anyone (for another user). */
export function openDir(name: string, writable = false): string {
  const dir = mkdtempSync(join(tmpdir(), `podkit-${name}-`));
  chmodSync(dir, writable ? 0o777 : 0o755);
  return dir;
}

/** Copies the single executable somewhere everyone can run it. */
export function copyExecutable(name: string): string {
  const file = join(openDir(name), "podkit");
  copyFileSync(EXECUTABLE, file);
  chmodSync(file, 0o755);
  return file;
}

const root = process.getuid?.() === 0;
/** The unprivileged user the clean runs use when the tests run as root. */
export const NOBODY_UID = 65534;

/**
 * Runs a command the way a fresh machine would: an empty environment (`env -i`) whose PATH has
 * no node (only an empty directory), in `cwd`, as an unprivileged user (nobody, when root).
 */
export function cleanArgv(argv: string[], extraEnv: Record<string, string> = {}): string[] {
  const env = ["env", "-i", `PATH=${emptyPath}`, ...Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`)];
  return root
    ? ["setpriv", `--reuid=${NOBODY_UID}`, `--regid=${NOBODY_UID}`, "--clear-groups", ...env, ...argv]
    : [...env, ...argv];
}
const emptyPath = openDir("empty-path");

export function clean(exe: string, args: string[], cwd: string, extraEnv?: Record<string, string>): Running {
  return podkit([], { cwd, wrap: cleanArgv([exe, ...args], extraEnv) });
}

/** Free loopback ports (bound and released, so a program can take them by number). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((resolve) => {
          const s = createServer();
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
