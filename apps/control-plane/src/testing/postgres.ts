import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { UnavailableError } from "@podkit/core";

const run = promisify(execFile);

export interface EphemeralPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** Create another empty database on the same server; resolves to its URL. */
  newDatabase(name: string): Promise<string>;
  /** Stop the server (`pg_ctl stop -m fast|immediate`), keeping its data, as an outage does. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Start it again on the same address. */
  start(): Promise<void>;
  /** The postmaster's process id (for SIGSTOP/SIGCONT stalls), or null when it is not running. */
  postmasterPid(): number | null;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function findBinDir(): string {
  for (const v of ["17", "16", "15", "14", "13"]) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, "initdb"))) return dir;
  }
  throw new UnavailableError(
    "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install Debian's postgresql",
  );
}

/**
 * A throwaway PostgreSQL server for tests and benchmarks: initdb into a temporary directory and
 * pg_ctl start on a free 127.0.0.1 port (as the `postgres` user when running as root, since the
 * server refuses root). `close()` stops it and deletes the directory.
 */
export async function startEphemeralPostgres(
  options: {
    binDir?: string;
    /** false: no fsync (fast tests); commits are still written to the OS unless `synchronousCommit` is false too. */
    fsync?: boolean;
    /** Default: as `fsync`. Keep it on where an immediate shutdown must not lose acknowledged commits. */
    synchronousCommit?: boolean;
  } = {},
): Promise<EphemeralPostgres> {
  const bin = options.binDir ?? findBinDir();
  const root = mkdtempSync(join(tmpdir(), "podkit-pg-"));
  const data = join(root, "data");
  const asRoot = userInfo().uid === 0;
  const exec = async (cmd: string, args: string[]) => {
    const argv = asRoot ? ["-u", "postgres", "--", join(bin, cmd), ...args] : args;
    return run(asRoot ? "runuser" : join(bin, cmd), argv, { cwd: root });
  };
  if (asRoot)
    chownSync(
      root,
      Number((await run("id", ["-u", "postgres"])).stdout.trim()),
      Number((await run("id", ["-g", "postgres"])).stdout.trim()),
    );
  const port = await freePort();
  const serverOpts = [`-p ${port}`, `-k ${root}`, "-c listen_addresses=127.0.0.1", "-c max_connections=200"];
  if (options.fsync === false) serverOpts.push("-c fsync=off");
  if ((options.synchronousCommit ?? options.fsync) === false) serverOpts.push("-c synchronous_commit=off");
  const start = () =>
    exec("pg_ctl", [
      "-D",
      data,
      "-o",
      serverOpts.join(" "),
      "-l",
      join(root, "server.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
  try {
    await exec("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    await start();
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw new UnavailableError(`could not start a test PostgreSQL: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    newDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name))
        throw new Error(`database name "${name}": use lower-case letters, digits and _`);
      await exec("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop: async (mode = "fast") => {
      await exec("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    start: async () => {
      await start();
    },
    postmasterPid: () => {
      try {
        return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      } catch {
        return null;
      }
    },
    close: async () => {
      await exec("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
