/**
 * DeleteObject on the POSIX backend: idempotent removal of a file or directory marker, the
 * conditional (If-Match) form under the key's lock, then the record and empty parents tidied.
 */

import { lstat, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { type S3Error, s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { WriteCondition } from "../types.js";
import { pruneEmptyParents, type VolumeRoot } from "./files.js";
import { withKeyLock } from "./key-lock.js";
import { keyToPath } from "./keys.js";
import type { MetaStore } from "./meta-store.js";
import { checkIfMatch } from "./write.js";

/** What a delete needs from the backend. */
export interface RemovalContext {
  volumes: VolumeRoot;
  meta: MetaStore;
  /** ETag and inode of the file at `path` now, or undefined if there is none. */
  currentVersion(
    bucketDir: string,
    key: string,
    path: string,
  ): Promise<{ etag: string; ino: number } | undefined>;
}

/** Remove `key` from the bucket at `bucketDir` (nothing there is no error: S3 deletes are idempotent). */
export async function deleteObjectAt(
  ctx: RemovalContext,
  bucketDir: string,
  key: string,
  condition?: WriteCondition,
): Promise<void> {
  const kp = keyToPath(key);
  if (condition?.ifMatch !== undefined) {
    const ifMatch = condition.ifMatch;
    if (kp.isDirectory) throw s3ErrorFor("conditional-delete-of-marker");
    // Checked and removed under the key's lock; the inode check catches an unconditional write.
    await withKeyLock(bucketDir, key, async () => {
      const path = await ctx.volumes.resolveExisting(bucketDir, kp.segments, key).catch(() => undefined);
      const now = path === undefined ? undefined : await ctx.currentVersion(bucketDir, key, path);
      checkIfMatch(now?.etag, ifMatch, key);
      await removeFile(ctx, bucketDir, key, path!, now!.ino);
    });
    return;
  }
  const parentReal = await ctx.volumes
    .resolveExisting(bucketDir, kp.segments.slice(0, -1), key)
    .catch((err: S3Error) => {
      if (err.code === "NoSuchKey" || err.code === "ObjectParentIsFile") return undefined;
      throw err;
    });
  if (parentReal === undefined) return; // nothing there: S3 deletes are idempotent
  const path = join(parentReal, kp.segments[kp.segments.length - 1]!);
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  const at = { bucketDir, key, path };
  if (kp.isDirectory) {
    if (!info.isDirectory()) return;
    try {
      await rmdir(path);
    } catch {
      await ctx.meta.remove(at); // still has content: only the marker goes
      return;
    }
  } else {
    if (info.isDirectory()) return;
    await unlink(path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw s3ErrorFromFs(err, { key });
    });
  }
  await afterRemoval(ctx, at);
}

/** Unlink the file a conditional delete checked, unless another write replaced it meanwhile. */
async function removeFile(
  ctx: RemovalContext,
  bucketDir: string,
  key: string,
  path: string,
  ino: number,
): Promise<void> {
  if ((await lstat(path).catch(() => undefined))?.ino !== ino) {
    throw s3ErrorFor("delete-raced-write", {
      Key: key,
    });
  }
  await unlink(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw s3ErrorFromFs(err, { key });
  });
  await afterRemoval(ctx, { bucketDir, key, path });
}

/** Drop a removed object's sidecar record and the directories it leaves empty. */
async function afterRemoval(
  ctx: RemovalContext,
  at: { bucketDir: string; key: string; path: string },
): Promise<void> {
  const { bucketDir, path } = at;
  if (!(await ctx.meta.attachesToFile(bucketDir))) await ctx.meta.remove(at);
  await pruneEmptyParents(bucketDir, path, async (dir) => {
    const rel = `${dir.slice(bucketDir.length + 1)}/`;
    return (await ctx.meta.read({ bucketDir, key: rel, path: dir }))?.directoryMarker === true;
  });
}
