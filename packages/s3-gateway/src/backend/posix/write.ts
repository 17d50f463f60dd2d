import { constants, type Stats } from "node:fs";
import { copyFile, type FileHandle, link, lstat, mkdir, open, rename, rm, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { type S3Error, s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { WriteCondition } from "../types.js";
import { appendStream, handleTarget } from "./append-stream.js";
import type { VolumeRoot } from "./files.js";
import { withKeyLock } from "./key-lock.js";
import type { MetaStore, StoredRecord } from "./meta-store.js";
import { OpenFile } from "./open-file.js";

/** How long a volume's free space is trusted for small writes (one statfs per second, not per PUT). */
const FREE_SPACE_CACHE_MS = 1000;
/** Writes up to this size may be checked against the cached figure; bigger ones ask the volume. */
const FREE_SPACE_CACHE_MAX_BYTES = 1 << 20;
const freeSpace = new Map<string, { free: number | undefined; at: number }>();

/** The volume's free bytes (undefined when its file system does not say), cached briefly. */
async function freeBytes(dir: string, size: number): Promise<number | undefined> {
  const cached = freeSpace.get(dir);
  const now = Date.now();
  if (size <= FREE_SPACE_CACHE_MAX_BYTES && cached && now - cached.at < FREE_SPACE_CACHE_MS)
    return cached.free;
  let free: number | undefined;
  try {
    const fsInfo = await statfs(dir);
    // File systems without a size (ramfs, some FUSE and network mounts) report zero blocks in
    // all: their free space is unknown, not zero.
    free = fsInfo.blocks === 0 ? undefined : fsInfo.bavail * fsInfo.bsize;
  } catch {
    free = undefined;
  }
  if (freeSpace.size > 10_000) freeSpace.clear();
  freeSpace.set(dir, { free, at: now });
  return free;
}

/**
 * Refuse early (before writing) when the announced size cannot fit on the volume. Small writes
 * use a figure at most a second old; a disk that fills meanwhile still fails the write (507).
 */
export async function checkFreeSpace(dir: string, size: number | undefined): Promise<void> {
  if (size === undefined || size === 0) return;
  const free = await freeBytes(dir, size);
  if (free !== undefined && size > free) {
    throw s3ErrorFor("upload-exceeds-free-space", { size, free });
  }
}

/**
 * Bodies up to this size are written through an OpenFile (callback node:fs: less main-thread
 * time per call, which is what a small PUT costs). Bigger ones go through a FileHandle: streaming
 * 1 GiB through callback writev measured about half as fast here (550-700 vs 850-1,400 MiB/s,
 * alternating in one process), for reasons not pinned down.
 */
const OPEN_FILE_MAX_BYTES = 1 << 20;

export interface Committed {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Stream a body into a temporary file, fsync it and return its stamp. The temporary is removed
 * on any failure (bad checksum, disconnect, full disk), so nothing partial is ever visible.
 */
export async function writeTemp(
  tmp: string,
  body: Readable,
  options: { declaredSize?: number | undefined; onChunk?: (chunk: Buffer) => void } = {},
): Promise<Committed> {
  const small = options.declaredSize !== undefined && options.declaredSize <= OPEN_FILE_MAX_BYTES;
  let handle: OpenFile | FileHandle | undefined;
  try {
    handle = small ? await OpenFile.open(tmp, "wx", 0o644) : await open(tmp, "wx", 0o644);
    await appendStream(handle instanceof OpenFile ? handle : handleTarget(handle), body, options.onChunk);
    await handle.sync();
    const info = await handle.stat();
    return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
  } catch (err) {
    await rm(tmp, { force: true });
    throw s3ErrorFromFs(err);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Copy a file into a temporary (a reflink where the file system can), fsynced. */
export async function copyToTemp(source: string, tmp: string): Promise<Committed> {
  try {
    await copyFile(source, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const handle = await OpenFile.open(tmp, "r+");
    try {
      await handle.sync();
      const info = await handle.stat();
      return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw s3ErrorFromFs(err);
  }
}

/**
 * Attach the record and rename the temporary over the key: readers see the old object or the
 * new one, never a torn one. With xattrs the record travels with the file; a sidecar is written
 * after the rename (its stamp check makes a crash in between harmless).
 */
export async function commitTemp(
  store: MetaStore,
  at: { bucketDir: string; key: string },
  tmp: string,
  target: string,
  record: StoredRecord,
  replacing?: Stats,
  mode: CommitMode = {},
): Promise<void> {
  const attached = await store.attachesToFile(at.bucketDir);
  const pinned = replacing?.isFile() && replacing.size >= RELEASE_LATER_BYTES ? await pin(target) : undefined;
  try {
    try {
      if (attached) await store.write({ ...at, path: tmp }, record);
      await place(tmp, target, at.key, mode).catch(async (err: NodeJS.ErrnoException) => {
        // A refused write to a sibling key removed the (empty) parent it had made meanwhile.
        if (err.code !== "ENOENT") throw err;
        await mkdir(dirname(target), { recursive: true });
        await place(tmp, target, at.key, mode);
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw s3ErrorFromFs(err, { key: at.key });
    }
    if (!attached) await store.write({ ...at, path: target }, record);
  } finally {
    // The replaced object's blocks are freed when this last reference closes, after the answer
    // (and closed on failure too).
    if (pinned) setImmediate(() => void pinned.close().catch(() => undefined));
  }
}

/** How a commit may replace the key: only if absent (link), or only the inode a check saw. */
export interface CommitMode {
  exclusive?: boolean;
  expectIno?: number;
}

async function place(tmp: string, target: string, key: string, mode: CommitMode): Promise<void> {
  if (mode.exclusive) {
    // link() fails if the name exists, atomically for every process on the file system.
    try {
      await link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const there = await lstat(target).catch(() => undefined);
      if (there?.isDirectory()) throw s3ErrorFor("directory-in-the-way", { Key: key });
      throw s3ErrorFor("object-exists", {
        Key: key,
        Condition: "If-None-Match",
      });
    }
    await rm(tmp, { force: true });
    return;
  }
  if (mode.expectIno !== undefined) {
    const now = await lstat(target).catch(() => undefined);
    if (now?.ino !== mode.expectIno) {
      throw s3ErrorFor("write-raced-write", {
        Key: key,
      });
    }
  }
  await rename(tmp, target);
}

/**
 * Replacing a big file frees all its blocks inside rename(), which took 170 ms for 1 GiB on ext4
 * here: 9 % of a 1 GiB PUT. Holding the old file open moves that work to a later close.
 */
const RELEASE_LATER_BYTES = 64 << 20;

async function pin(path: string): Promise<FileHandle | undefined> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
}

/** What the key holds now (for commitTemp), refusing a directory. */
export async function refuseDirectory(target: string, key: string): Promise<Stats | undefined> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw s3ErrorFor("directory-in-the-way", { Key: key });
  return existing;
}

/** Refuse early what a commit would refuse: a file in the parent path, a directory at the key. */
export async function checkTarget(
  volumes: VolumeRoot,
  bucketDir: string,
  segments: readonly string[],
  key: string,
): Promise<void> {
  const parent = await volumes.checkParent(bucketDir, segments, key);
  if (parent !== undefined) await refuseDirectory(join(parent, segments[segments.length - 1]!), key);
}

/**
 * Rename a finished temporary over the key, creating the key's parent directories only now (so a
 * body refused earlier never made any); if the commit fails they are removed again while empty,
 * and the temporary is removed.
 */
export async function commitAtKey(
  volumes: VolumeRoot,
  store: MetaStore,
  at: { bucketDir: string; segments: readonly string[]; key: string },
  tmp: string,
  record: StoredRecord,
  guard?: CommitGuard,
): Promise<void> {
  const commit = () =>
    volumes.withParent(at.bucketDir, at.segments, at.key, async (parent) => {
      const target = join(parent, at.segments[at.segments.length - 1]!);
      const replacing = await refuseDirectory(target, at.key);
      const mode: CommitMode = {};
      if (guard?.condition.ifNoneMatch) {
        if (replacing) throw preconditionFailed(at.key, "If-None-Match");
        mode.exclusive = true;
      }
      if (guard?.condition.ifMatch !== undefined) {
        const now = await guard.current(target);
        checkIfMatch(now?.etag, guard.condition.ifMatch, at.key);
        mode.expectIno = now!.ino;
      }
      await commitTemp(store, at, tmp, target, record, replacing, mode);
    });
  try {
    // If-Match is a check then a rename: the key's lock keeps other conditional writers (in any
    // process) out between the two, and the inode check catches an unconditional one.
    if (guard?.condition.ifMatch !== undefined) await withKeyLock(at.bucketDir, at.key, commit);
    else await commit();
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A write's condition and how to read what the key holds now (ETag and inode). */
export interface CommitGuard {
  condition: WriteCondition;
  current: (target: string) => Promise<{ etag: string; ino: number } | undefined>;
}

export function preconditionFailed(key: string, condition: string): S3Error {
  return s3ErrorFor("precondition-failed", { Key: key, Condition: condition });
}

/** If-Match against the key's current ETag: no object is 404, another ETag 412. */
export function checkIfMatch(current: string | undefined, wanted: string, key: string): void {
  if (current === undefined) throw s3ErrorFor("key-not-found", { Key: key });
  if (wanted !== "*" && wanted !== current) throw preconditionFailed(key, "If-Match");
}
