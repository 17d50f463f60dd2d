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
  /**
   * A streaming standby of this server on another port, made synchronous (a commit returns only
   * once the standby has it), so that `promote()` after this server's loss is a failover that
   * keeps every acknowledged commit. Closed with this server.
   */
  startStandby(): Promise<EphemeralPostgres & { port: number; promote(): Promise<void> }>;
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
 * server refuses root). `close()` stops it (and its standbys) and deletes the directory.
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
  const servers: Array<{ data: string }> = [];
  let standbys = 0;

  const server = async (
    data: string,
    prepare: (port: number) => Promise<unknown>,
  ): Promise<EphemeralPostgres & { port: number; promote(): Promise<void> }> => {
    const port = await freePort();
    const serverOpts = [
      `-p ${port}`,
      `-k ${root}`,
      "-c listen_addresses=127.0.0.1",
      "-c max_connections=200",
    ];
    if (options.fsync === false) serverOpts.push("-c fsync=off");
    if ((options.synchronousCommit ?? options.fsync) === false) serverOpts.push("-c synchronous_commit=off");
    const start = () =>
      exec("pg_ctl", [
        "-D",
        data,
        "-o",
        serverOpts.join(" "),
        "-l",
        `${data}.log`,
        "-w",
        "-t",
        "60",
        "start",
      ]);
    const psql = (sql: string) =>
      exec("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-Atc", sql]);
    await prepare(port);
    await start();
    servers.push({ data });
    const handle: EphemeralPostgres & { port: number; promote(): Promise<void> } = {
      port,
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
      promote: async () => {
        await exec("pg_ctl", ["-D", data, "-w", "-t", "60", "promote"]);
      },
      startStandby: async () => {
        const standby = await server(join(root, `standby-${++standbys}`), (standbyPort) =>
          // -R: standby.signal and primary_conninfo; the primary's pg_hba (initdb --auth=trust) allows replication.
          exec("pg_basebackup", [
            "-h",
            "127.0.0.1",
            "-p",
            String(port),
            "-U",
            "postgres",
            "-D",
            join(root, `standby-${standbys}`),
            "-R",
            "-X",
            "stream",
            `--label=standby-${standbyPort}`,
          ]),
        );
        await psql("alter system set synchronous_standby_names = '*'");
        await psql("select pg_reload_conf()");
        for (let i = 0; ; i++) {
          const { stdout } = await psql("select count(*) from pg_stat_replication where sync_state = 'sync'");
          if (Number(stdout.trim()) > 0) break;
          if (i > 300) throw new UnavailableError("the test standby did not become synchronous in 30 s");
          await new Promise((r) => setTimeout(r, 100));
        }
        return standby;
      },
      close: async () => {
        for (const { data: d } of servers.splice(0).reverse())
          await exec("pg_ctl", ["-D", d, "-m", "immediate", "-w", "stop"]).catch(() => {});
        rmSync(root, { recursive: true, force: true });
      },
    };
    return handle;
  };

  try {
    const data = join(root, "data");
    return await server(data, () =>
      exec("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
    );
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw new UnavailableError(`could not start a test PostgreSQL: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
