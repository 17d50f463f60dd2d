/** CopyObject on the POSIX backend, from a source already opened (a snapshot of one version). */

import { s3ErrorFor } from "../../errors/s3-errors.js";
import type { ObjectInfo, ObjectMeta, WriteCondition } from "../types.js";
import type { VolumeRoot } from "./files.js";
import { keyToPath } from "./keys.js";
import type { MetaStore, StoredRecord } from "./meta-store.js";
import { openedPath, type Snapshot } from "./snapshot.js";
import { type CommitGuard, checkFreeSpace, checkTarget, commitAtKey, copyToTemp } from "./write.js";

/** What a copy needs from the backend. */
export interface CopyContext {
  volumes: VolumeRoot;
  meta: MetaStore;
  /** How a conditional write reads what the key holds at commit time. */
  guard(bucketDir: string, key: string, condition: WriteCondition): CommitGuard;
}

/**
 * Copy the opened source to `target`: onto itself only to replace its metadata (the data stays),
 * otherwise through a temporary committed at the key (with the write's condition, if any).
 */
export async function copyOpened(
  ctx: CopyContext,
  src: Snapshot,
  source: { bucket: string; key: string },
  target: { bucket: string; key: string },
  meta: ObjectMeta | undefined,
  condition?: WriteCondition,
): Promise<ObjectInfo> {
  const srcInfo = src.info;
  const bucketDir = await ctx.volumes.bucketDir(target.bucket);
  const kp = keyToPath(target.key);
  if (kp.isDirectory) throw s3ErrorFor("copy-onto-directory-marker");
  const newMeta = meta ?? srcInfo.meta;
  if (source.bucket === target.bucket && source.key === target.key) {
    if (!meta) {
      throw s3ErrorFor("copy-onto-itself");
    }
    // Same object, new metadata: rewrite the record only; the data stays where it is.
    const info = src.stats;
    await ctx.meta.write(
      { bucketDir, key: target.key, path: src.path },
      {
        etag: srcInfo.etag,
        size: info.size,
        mtimeMs: info.mtimeMs,
        ino: info.ino,
        meta: { ...newMeta, checksum: srcInfo.meta.checksum },
      },
    );
    return { ...srcInfo, meta: newMeta };
  }
  await checkTarget(ctx.volumes, bucketDir, kp.segments, target.key);
  await checkFreeSpace(bucketDir, srcInfo.size);
  const tmp = await ctx.volumes.tempPath(bucketDir);
  const written = await copyToTemp(openedPath(src.file, src.path), tmp);
  const record: StoredRecord = {
    etag: srcInfo.etag,
    ...written,
    meta: { ...newMeta, ...(srcInfo.meta.checksum ? { checksum: srcInfo.meta.checksum } : {}) },
  };
  const guard = condition ? ctx.guard(bucketDir, target.key, condition) : undefined;
  await commitAtKey(
    ctx.volumes,
    ctx.meta,
    { bucketDir, segments: kp.segments, key: target.key },
    tmp,
    record,
    guard,
  );
  return {
    key: target.key,
    size: written.size,
    lastModified: new Date(written.mtimeMs),
    etag: record.etag,
    meta: record.meta,
  };
}
