import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { compositeChecksum, createChecksum } from "../../auth/checksums.js";
import { s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { ExpectedChecksum, ObjectInfo, ObjectMeta } from "../types.js";
import { appendStream, handleTarget } from "./append-stream.js";
import type { VolumeRoot } from "./files.js";
import { keyToPath } from "./keys.js";
import type { MetaStore, StoredRecord } from "./meta-store.js";
import type { StoredPart, StoredUpload } from "./upload-records.js";
import { type CommitGuard, commitAtKey } from "./write.js";

/**
 * CompleteMultipartUpload's one copy: append the parts into a temporary on the volume (computing a
 * FULL_OBJECT checksum on the way), fsync, stamp it with the upload id and rename it over the key,
 * then drop the upload directory.
 */
// Long: one multipart assembly whose temporary file, checksums and cleanup share the same try/finally blocks.
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
    guard?: CommitGuard;
    expected?: ExpectedChecksum;
  },
): Promise<ObjectInfo> {
  const { bucketDir, dir, key, uploadId, upload, parts } = job;
  const kp = keyToPath(key);
  // A file in the key's path fails here, before the parts are copied.
  await volumes.checkParent(bucketDir, kp.segments, key);
  const expected = job.expected;
  // FULL_OBJECT: the upload's own algorithm, or the one the Complete announces (SDKs send a
  // full-object CRC of the whole file even for uploads created without a checksum).
  const fullAlgorithm =
    expected?.type === "FULL_OBJECT"
      ? expected.algorithm
      : upload.checksumAlgorithm && upload.checksumType === "FULL_OBJECT"
        ? upload.checksumAlgorithm
        : undefined;
  const fullChecksum = fullAlgorithm ? createChecksum(fullAlgorithm) : undefined;
  const tmp = await volumes.tempPath(bucketDir);
  const handle = await open(tmp, "wx", 0o644);
  let info: { size: number; mtimeMs: number; ino: number };
  try {
    for (const part of parts) {
      await appendStream(
        handleTarget(handle),
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
  const compositeAlgorithm = expected?.type === "COMPOSITE" ? expected.algorithm : upload.checksumAlgorithm;
  if (fullAlgorithm && fullChecksum) {
    checksum = { algorithm: fullAlgorithm, base64: await fullChecksum.digestBase64(), type: "FULL_OBJECT" };
  } else if (compositeAlgorithm && parts.every((p) => p.checksum?.algorithm === compositeAlgorithm)) {
    const b64 = await compositeChecksum(
      compositeAlgorithm,
      parts.map((p) => p.checksum!.base64),
    );
    checksum = { algorithm: compositeAlgorithm, base64: b64, type: "COMPOSITE" };
  }
  try {
    verifyObjectChecksum(expected, checksum);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const record: StoredRecord = {
    etag,
    ...info,
    meta: { ...upload.meta, ...(checksum ? { checksum } : {}) },
    uploadId,
    ...partRuns(parts.map((p) => p.size)),
  };
  await commitAtKey(volumes, meta, { bucketDir, segments: kp.segments, key }, tmp, record, job.guard);
  await rm(dir, { recursive: true, force: true });
  return {
    key,
    size: info.size,
    lastModified: new Date(info.mtimeMs),
    etag,
    meta: record.meta,
    ...(record.parts ? { parts: record.parts } : {}),
  };
}

/** The announced whole-object checksum against the one computed (BadDigest when they differ). */
function verifyObjectChecksum(expected: ExpectedChecksum | undefined, got: ObjectMeta["checksum"]): void {
  if (!expected) return;
  if (!got) {
    throw s3ErrorFor("parts-lack-checksums", { algorithm: expected.algorithm.toUpperCase() });
  }
  const strip = (v: string) => v.replace(/-\d+$/, "");
  if (strip(got.base64) !== strip(expected.base64)) {
    throw s3ErrorFor("multipart-checksum-mismatch", {
      kind: expected.type === "FULL_OBJECT" ? "full-object" : "composite",
      algorithm: expected.algorithm.toUpperCase(),
    });
  }
}

/** Most runs kept: the record lives in an extended attribute, often limited to a few KiB. */
const MAX_PART_RUNS = 64;

/** Part sizes as runs of [size, count]; omitted when uploads vary their part size too often. */
function partRuns(sizes: number[]): { parts?: Array<[number, number]> } {
  const runs: Array<[number, number]> = [];
  for (const size of sizes) {
    const last = runs[runs.length - 1];
    if (last && last[0] === size) last[1] += 1;
    else runs.push([size, 1]);
  }
  return runs.length <= MAX_PART_RUNS ? { parts: runs } : {};
}
