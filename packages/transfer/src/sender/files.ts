import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { lstat, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ValidationError } from "@podkit/core";
import { symlinkHash, xxhashFile } from "../crypto/hash.js";
import { type FileInfo, GO_MODE_SYMLINK, GO_ZERO_TIME, type SenderInfo } from "../protocol/schemas.js";

/** A file the sender offers, in `FilesToTransfer` order, with where its bytes come from. */
export interface SourceFile {
  info: FileInfo;
  /** Absolute path on this machine (null for symlinks: they carry no data). */
  path: string | null;
}

export interface Offer {
  info: SenderInfo;
  files: SourceFile[];
  totalBytes: number;
  /** Removes temporary files (stdin copies, zips). */
  cleanup(): Promise<void>;
}

export interface CollectOptions {
  /** Zip every folder argument (runpodctl's way; empty folders are lost). */
  zip?: boolean;
  noCompress?: boolean;
  stdin?: Readable;
  signal?: AbortSignal;
}

function goTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Fails fast (before any network work) on no arguments or one that does not exist. */
export async function checkPaths(paths: readonly string[]): Promise<void> {
  if (paths.length === 0)
    throw new ValidationError("arguments", [
      { path: "PATH", message: "give at least one file, folder or -" },
    ]);
  for (const p of paths) {
    if (p === "-") continue;
    if (!(await lstat(resolve(p)).catch(() => null)))
      throw new ValidationError("arguments", [{ path: p, message: "no such file or folder" }]);
  }
}

/** Walks the arguments with lstat semantics (symlinks are entries, never followed) and hashes each file. */
// Long: one lstat walk whose entry kinds (file, dir, symlink, empty dir) are handled side by side.
export async function collectFiles(paths: readonly string[], options: CollectOptions = {}): Promise<Offer> {
  if (paths.length === 0)
    throw new ValidationError("arguments", [
      { path: "PATH", message: "give at least one file, folder or -" },
    ]);
  const temp = await mkdtemp(join(tmpdir(), "podkit-send-"));
  const files: SourceFile[] = [];
  const emptyFolders: FileInfo[] = [];
  let folders = 0;

  const addFile = async (
    abs: string,
    folderRemote: string,
    name: string,
    extra: Partial<FileInfo> = {},
  ): Promise<void> => {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) {
      const target = await readlink(abs);
      files.push({
        path: null,
        info: {
          n: name,
          fr: folderRemote,
          h: symlinkHash(target).toString("base64"),
          s: st.size,
          m: goTime(st.mtimeMs),
          sy: target,
          md: GO_MODE_SYMLINK + (st.mode & 0o777),
        },
      });
      return;
    }
    const hash = await xxhashFile(abs, options.signal);
    files.push({
      path: abs,
      info: {
        n: name,
        fr: folderRemote,
        h: hash.toString("base64"),
        s: st.size,
        m: goTime(st.mtimeMs),
        md: st.mode & 0o777,
        ...extra,
      },
    });
  };

  const walk = async (abs: string, remote: string): Promise<void> => {
    folders++;
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (entries.length === 0) emptyFolders.push({ n: "", fr: remote, s: 0, m: GO_ZERO_TIME });
    for (const e of entries) {
      const child = join(abs, e.name);
      if (e.isDirectory()) await walk(child, `${remote}${e.name}/`);
      else if (e.isFile() || e.isSymbolicLink()) await addFile(child, remote, e.name);
    }
  };

  try {
    for (const p of paths) {
      if (p === "-") {
        const name = `croc-stdin-${randomBytes(4).readUInt32BE(0) % 100_000_000}`;
        const copy = join(temp, name);
        await pipeline(options.stdin ?? process.stdin, createWriteStream(copy));
        await addFile(copy, "./", name);
        continue;
      }
      const abs = resolve(p);
      const st = await lstat(abs).catch(() => null);
      if (!st) throw new ValidationError("arguments", [{ path: p, message: "no such file or folder" }]);
      const name = basename(abs);
      if (st.isDirectory() && options.zip) {
        const zipPath = join(temp, `${name}.zip`);
        await zipFolder(abs, name, zipPath);
        await addFile(zipPath, "./", `${name}.zip`, { tf: true });
      } else if (st.isDirectory()) {
        await walk(abs, `${name}/`);
      } else {
        await addFile(abs, "./", name);
      }
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  const info: SenderInfo = {
    // croc's v9-era receivers index FilesToTransfer[0] when the list is non-nil: send null, never [].
    FilesToTransfer: files.length ? files.map((f) => f.info) : null,
    EmptyFoldersToTransfer: emptyFolders.length ? emptyFolders : null,
    TotalNumberFolders: folders,
    MachineID: "",
    Ask: false,
    SendingText: false,
    NoCompress: options.noCompress ?? false,
    HashAlgorithm: "xxhash",
  };
  return {
    info,
    files,
    totalBytes: files.reduce((n, f) => n + (f.path ? f.info.s : 0), 0),
    cleanup: () => rm(temp, { recursive: true, force: true }),
  };
}

/** Stored (uncompressed) zip of a folder, entries under `name/`, like runpodctl's zip mode. */
async function zipFolder(abs: string, name: string, zipPath: string): Promise<void> {
  // Loaded on demand: only `--zip` needs it.
  const { default: yazl } = await import("yazl");
  const zip = new yazl.ZipFile();
  const add = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const child = join(dir, e.name);
      if (e.isDirectory()) await add(child, `${prefix}${e.name}/`);
      else if (e.isFile()) zip.addFile(child, `${prefix}${e.name}`, { compress: false });
    }
  };
  await add(abs, `${name}/`);
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(zipPath));
}
