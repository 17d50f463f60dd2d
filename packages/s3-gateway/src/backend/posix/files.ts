import { randomBytes } from "node:crypto";
import { type Dirent, realpathSync } from "node:fs";
import { lstat, mkdir, readdir, realpath, rm, rmdir, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, sep } from "node:path";
import { s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import { checkBucketName, RESERVED_DIR } from "./keys.js";

const HOST = hostname().replace(/[^A-Za-z0-9.-]/g, "_");
/** Temporaries of other hosts (a shared file system) are only removed once this old. */
const FOREIGN_TEMP_MAX_AGE_MS = 24 * 3600 * 1000;

export function isInside(parentReal: string, childReal: string): boolean {
  return childReal === parentReal || childReal.startsWith(parentReal + sep);
}

/** The directory tree under `--root`: one directory per bucket (volume). */
/** A bucket's resolved directory is reused this long (saves a realpath + stat per request). */
const BUCKET_CACHE_MS = 1000;

export class VolumeRoot {
  readonly root: string;
  private readonly bucketCache = new Map<string, { dir: string; at: number }>();
  private readonly tempDirs = new Map<string, number>();

  constructor(root: string) {
    this.root = realpathSync(root);
  }

  /** The bucket's real directory, or NoSuchBucket. */
  async bucketDir(bucket: string): Promise<string> {
    const cached = this.bucketCache.get(bucket);
    if (cached && Date.now() - cached.at < BUCKET_CACHE_MS) return cached.dir;
    checkBucketName(bucket);
    const dir = join(this.root, bucket);
    try {
      const real = await realpath(dir);
      if (!(await stat(real)).isDirectory()) throw new Error("not a directory");
      if (this.bucketCache.size > 10_000) this.bucketCache.clear();
      this.bucketCache.set(bucket, { dir: real, at: Date.now() });
      return real;
    } catch {
      throw s3ErrorFor(
        "bucket-not-found",
        { bucket },
        {
          BucketName: bucket,
        },
      );
    }
  }

  /** Drop a deleted bucket from the cache. */
  forget(bucket: string): void {
    this.bucketCache.delete(bucket);
    this.tempDirs.clear();
  }

  reservedDir(bucketDir: string): string {
    return join(bucketDir, RESERVED_DIR);
  }

  /** A fresh temporary path on the bucket's file system, named so a restart can tell whose it is. */
  async tempPath(bucketDir: string): Promise<string> {
    const dir = join(bucketDir, RESERVED_DIR, "tmp");
    // Made sure of at most once a second per volume (like the bucket directory itself), so a
    // removed folder heals quickly without an mkdir on every PUT.
    const checked = this.tempDirs.get(dir);
    if (checked === undefined || Date.now() - checked >= BUCKET_CACHE_MS) {
      await mkdir(dir, { recursive: true });
      this.tempDirs.set(dir, Date.now());
    }
    return join(dir, `${HOST}-${process.pid}-${randomBytes(8).toString("hex")}`);
  }

  /** Resolve an existing path for reading; a symlink leading out of the bucket is AccessDenied. */
  async resolveExisting(bucketDir: string, segments: readonly string[], key: string): Promise<string> {
    let real: string;
    try {
      real = await realpath(join(bucketDir, ...segments));
    } catch (err) {
      throw s3ErrorFromFs(err, { key });
    }
    if (!isInside(bucketDir, real)) {
      throw s3ErrorFor("symlink-escapes-volume", {
        Key: key,
      });
    }
    return real;
  }

  /**
   * Make sure the parent directory of `segments` exists inside the bucket, creating it if needed.
   * The deepest existing ancestor is resolved first, so a symlink leading out of the volume is
   * refused before anything is created through it. A file in the way is ObjectParentIsFile (409).
   * `created` is the top-most directory this call made (undefined if it made none).
   */
  async prepareParent(
    bucketDir: string,
    segments: readonly string[],
    key: string,
  ): Promise<{ parent: string; created?: string }> {
    const { existingReal, rest } = await this.deepestExisting(bucketDir, segments, key);
    const parent = join(existingReal, ...rest);
    if (rest.length === 0) return { parent };
    try {
      const created = await mkdir(parent, { recursive: true });
      return created === undefined ? { parent } : { parent, created };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" || code === "ENOTDIR") throw s3ErrorFor("parent-is-file", { Key: key });
      throw s3ErrorFromFs(err, { key });
    }
  }

  /**
   * The checks of prepareParent without creating anything (before a body is received, so a write
   * refused later leaves no directory behind); the parent's real path when it exists already.
   */
  async checkParent(
    bucketDir: string,
    segments: readonly string[],
    key: string,
  ): Promise<string | undefined> {
    const { existingReal, rest } = await this.deepestExisting(bucketDir, segments, key);
    return rest.length === 0 ? existingReal : undefined;
  }

  /**
   * Run `commit` with the key's parent directory in place; if it fails, the directories this call
   * created are removed again while still empty, so a refused write leaves nothing that would
   * list as a `dir/` object.
   */
  async withParent<T>(
    bucketDir: string,
    segments: readonly string[],
    key: string,
    commit: (parent: string) => Promise<T>,
  ): Promise<T> {
    const { parent, created } = await this.prepareParent(bucketDir, segments, key);
    try {
      return await commit(parent);
    } catch (err) {
      if (created !== undefined) await removeCreated(parent, created);
      throw err;
    }
  }

  private async deepestExisting(
    bucketDir: string,
    segments: readonly string[],
    key: string,
  ): Promise<{ existingReal: string; rest: string[] }> {
    const parentSegments = segments.slice(0, -1);
    let depth = parentSegments.length;
    let existingReal: string | undefined;
    while (existingReal === undefined) {
      const candidate = join(bucketDir, ...parentSegments.slice(0, depth));
      try {
        existingReal = await realpath(candidate);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTDIR") throw s3ErrorFor("parent-is-file", { Key: key });
        if (code !== "ENOENT" || depth === 0) throw s3ErrorFromFs(err, { key });
        depth -= 1;
      }
    }
    if (!isInside(bucketDir, existingReal)) {
      throw s3ErrorFor("symlink-leads-outside-volume", {
        Key: key,
      });
    }
    const info = await stat(existingReal);
    if (!info.isDirectory()) throw s3ErrorFor("parent-is-file", { Key: key });
    return { existingReal, rest: parentSegments.slice(depth) };
  }

  async listBucketDirs(): Promise<Array<{ name: string; created: Date }>> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const out: Array<{ name: string; created: Date }> = [];
    for (const entry of entries) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
      try {
        checkBucketName(entry.name);
        const info = await stat(join(this.root, entry.name));
        if (info.isDirectory())
          out.push({ name: entry.name, created: info.birthtimeMs > 0 ? info.birthtime : info.mtime });
      } catch {
        // not a valid bucket name or vanished: not a volume
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Remove temporaries a killed gateway left behind: ours from processes on this host that are
   * gone, and other hosts' once they are a day old (their owner may still be writing).
   */
  async cleanTemporaries(): Promise<number> {
    let removed = 0;
    for (const bucket of await this.listBucketDirs()) {
      const dir = join(this.root, bucket.name, RESERVED_DIR, "tmp");
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (await isAbandoned(join(dir, entry.name), entry.name)) {
          await rm(join(dir, entry.name), { recursive: true, force: true });
          removed += 1;
        }
      }
    }
    return removed;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Is a `<host>-<pid>-…` temporary (or claim) owned by a process that is gone? */
export async function isAbandoned(path: string, name: string): Promise<boolean> {
  const m = /^(.+)-(\d+)-[0-9a-f]+/.exec(name);
  if (m && m[1] === HOST) return Number(m[2]) !== process.pid && !processAlive(Number(m[2]));
  try {
    return Date.now() - (await lstat(path)).mtimeMs > FOREIGN_TEMP_MAX_AGE_MS;
  } catch {
    return false;
  }
}

export function ownerTag(): string {
  return `${HOST}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** Remove now-empty parent directories of a deleted key up to (not including) the bucket. */
export async function pruneEmptyParents(
  bucketDir: string,
  path: string,
  keep: (dir: string) => Promise<boolean>,
): Promise<void> {
  let dir = dirname(path);
  while (dir !== bucketDir && isInside(bucketDir, dir)) {
    if (await keep(dir)) return;
    try {
      await rmdir(dir);
    } catch {
      return; // not empty (or gone): stop
    }
    dir = dirname(dir);
  }
}

/** Remove `dir` and its parents up to and including `top` while they are empty. */
async function removeCreated(dir: string, top: string): Promise<void> {
  for (let at = dir; at.length >= top.length && isInside(top, at); at = dirname(at)) {
    try {
      await rmdir(at);
    } catch {
      return; // not empty (another write landed there) or gone
    }
  }
}
