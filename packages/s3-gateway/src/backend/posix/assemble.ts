import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { compositeChecksum, createChecksum } from "../../auth/checksums.js";
import { s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { ObjectInfo, ObjectMeta } from "../types.js";
import type { VolumeRoot } from "./files.js";
import { keyToPath } from "./keys.js";
import type { MetaStore, StoredRecord } from "./meta-store.js";
import type { StoredPart, StoredUpload } from "./multipart.js";
import { appendStream, commitAtKey } from "./write.js";

/**
 * CompleteMultipartUpload's one copy: append the parts into a temporary on the volume (computing a
 * FULL_OBJECT checksum on the way), fsync, stamp it with the upload id and rename it over the key,
 * then drop the upload directory.
 */
export async function assembleUpload(
  volumes: VolumeRoot,
  meta: MetaStore,
  job: {
    bucketDir: string;
    dir: string;
    key: string;
    uploadId: string;
    upload: StoredUpload;
    parts: StoredPart[];
  },
): Promise<ObjectInfo> {
  const { bucketDir, dir, key, uploadId, upload, parts } = job;
  const kp = keyToPath(key);
  // A file in the key's path fails here, before the parts are copied.
  await volumes.checkParent(bucketDir, kp.segments, key);
  const fullChecksum =
    upload.checksumAlgorithm && upload.checksumType === "FULL_OBJECT"
      ? createChecksum(upload.checksumAlgorithm)
      : undefined;
  const tmp = await volumes.tempPath(bucketDir);
  const handle = await open(tmp, "wx", 0o644);
  let info: { size: number; mtimeMs: number; ino: number };
  try {
    for (const part of parts) {
      await appendStream(
        handle,
        createReadStream(join(dir, part.file), { highWaterMark: 1 << 20 }),
        (chunk) => fullChecksum?.update(chunk),
      );
    }
    await handle.sync();
    const s = await handle.stat();
    info = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch (err) {
    await rm(tmp, { force: true });
    throw s3ErrorFromFs(err, { key });
  } finally {
    await handle.close().catch(() => undefined);
  }
  const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag, "hex")));
  const etag = `${createHash("md5").update(md5s).digest("hex")}-${parts.length}`;
  let checksum: ObjectMeta["checksum"];
  if (upload.checksumAlgorithm && fullChecksum) {
    checksum = {
      algorithm: upload.checksumAlgorithm,
      base64: await fullChecksum.digestBase64(),
      type: "FULL_OBJECT",
    };
  } else if (
    upload.checksumAlgorithm &&
    parts.every((p) => p.checksum?.algorithm === upload.checksumAlgorithm)
  ) {
    const b64 = await compositeChecksum(
      upload.checksumAlgorithm,
      parts.map((p) => p.checksum!.base64),
    );
    checksum = { algorithm: upload.checksumAlgorithm, base64: b64, type: "COMPOSITE" };
  }
  const record: StoredRecord = {
    etag,
    ...info,
    meta: { ...upload.meta, ...(checksum ? { checksum } : {}) },
    uploadId,
  };
  await commitAtKey(volumes, meta, { bucketDir, segments: kp.segments, key }, tmp, record);
  await rm(dir, { recursive: true, force: true });
  return { key, size: info.size, lastModified: new Date(info.mtimeMs), etag, meta: record.meta };
}
