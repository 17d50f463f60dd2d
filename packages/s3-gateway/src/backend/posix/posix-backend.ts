import type { Stats } from "node:fs";
import { mkdir, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { type S3Error, s3ErrorFor } from "../../errors/s3-errors.js";
import type {
  Backend,
  BucketInfo,
  ChecksumChoice,
  CompletedPart,
  ExpectedChecksum,
  ListEntry,
  ListQuery,
  ObjectInfo,
  ObjectMeta,
  OpenObject,
  PartInfo,
  UploadInfo,
  WriteCondition,
  WriteInput,
} from "../types.js";
import { copyOpened } from "./copy.js";
import { deleteObjectAt } from "./delete.js";
import { putDirectoryMarker } from "./directory-marker.js";
import { EMPTY_MD5, LazyEtags } from "./etags.js";
import { VolumeRoot } from "./files.js";
import { keyToPath } from "./keys.js";
import {
  AutoMetaStore,
  type MetaStore,
  SidecarMetaStore,
  type StoredRecord,
  XattrMetaStore,
} from "./meta-store.js";
import { Multipart } from "./multipart.js";
import { sendRange } from "./send-range.js";
import { openedPath, openSnapshot, type Snapshot } from "./snapshot.js";
import { walkKeys } from "./walker.js";
import { type CommitGuard, checkFreeSpace, checkTarget, commitAtKey, writeTemp } from "./write.js";

export interface PosixBackendOptions {
  root: string;
  /** "auto" probes each volume for extended attributes and falls back to sidecar files where it has none. */
  metadata?: "auto" | "xattr" | "sidecar";
}

const EMPTY_META: ObjectMeta = { headers: {}, userMeta: {} };
/** Bodies above this size are refused for a file-or-directory conflict before they are received. */
const EARLY_CHECK_MIN_BYTES = 64 * 1024;

/** Each top-level directory of the root is a bucket; each file below it an object. */
export class PosixBackend implements Backend {
  readonly volumes: VolumeRoot;
  readonly meta: MetaStore;
  readonly etags: LazyEtags;
  private readonly multipart: Multipart;

  private constructor(volumes: VolumeRoot, meta: MetaStore) {
    this.volumes = volumes;
    this.meta = meta;
    this.etags = new LazyEtags(meta);
    this.multipart = new Multipart(
      volumes,
      meta,
      (bucket, key, path) => this.infoOf(bucket, key, path),
      (bucketDir, key, condition) => this.guard(bucketDir, key, condition),
    );
  }

  static async open(options: PosixBackendOptions): Promise<PosixBackend> {
    const volumes = new VolumeRoot(options.root);
    const mode = options.metadata ?? "auto";
    const store =
      mode === "xattr"
        ? new XattrMetaStore()
        : mode === "sidecar"
          ? new SidecarMetaStore()
          : new AutoMetaStore();
    const backend = new PosixBackend(volumes, store);
    await volumes.cleanTemporaries();
    await backend.multipart.releaseAbandonedClaims();
    return backend;
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.volumes.listBucketDirs();
  }

  async headBucket(bucket: string): Promise<void> {
    await this.volumes.bucketDir(bucket);
  }

  async createBucket(bucket: string): Promise<void> {
    try {
      await this.volumes.bucketDir(bucket);
      throw s3ErrorFor("bucket-exists", { BucketName: bucket });
    } catch (err) {
      if ((err as S3Error).code !== "NoSuchBucket") throw err;
    }
    await mkdir(join(this.volumes.root, bucket));
  }

  async deleteBucket(bucket: string): Promise<void> {
    const dir = await this.volumes.bucketDir(bucket);
    for await (const _ of walkKeys(this.walkContext(dir), { prefix: "", delimiter: "", after: "" })) {
      throw s3ErrorFor(
        "bucket-not-empty",
        { bucket },
        {
          BucketName: bucket,
        },
      );
    }
    await rm(this.volumes.reservedDir(dir), { recursive: true, force: true });
    await rmdir(dir);
    this.volumes.forget(bucket);
  }

  private walkContext(bucketDir: string) {
    return {
      bucketDir,
      isMarked: async (dirKey: string, absDir: string) =>
        (await this.meta.read({ bucketDir, key: dirKey, path: absDir }))?.directoryMarker === true,
    };
  }

  /** Describe the file at `path` as the object `key` (ETag computed lazily if needed). */
  async infoOf(bucketDir: string, key: string, path: string, known?: Stats): Promise<ObjectInfo> {
    const info = known ?? (await stat(path));
    const at = { bucketDir, key, path };
    const record = await this.meta.read(at);
    if (info.isDirectory()) {
      return { key, size: 0, lastModified: info.mtime, etag: EMPTY_MD5, meta: record?.meta ?? EMPTY_META };
    }
    const etag = await this.etags.etagFor(at, info, record);
    const valid = record !== undefined && record.etag === etag;
    const meta = record ? (valid ? record.meta : { ...record.meta, checksum: undefined }) : EMPTY_META;
    return { key, size: info.size, lastModified: info.mtime, etag, meta };
  }

  /**
   * Resolve a key to its real path inside the volume, refusing one whose links lead out of it
   * before anything is opened. Only a directory key (`dir/`) is stat-ed here: a file key is opened
   * next, and that open's fstat says whether it names a file (a directory or a FIFO there is
   * NoSuchKey), one thread-pool call fewer per GET and HEAD.
   */
  private async locate(
    bucket: string,
    key: string,
  ): Promise<{ bucketDir: string; path: string; directory?: Stats }> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    const kp = keyToPath(key);
    const path = await this.volumes.resolveExisting(bucketDir, kp.segments, key);
    if (!kp.isDirectory) return { bucketDir, path };
    const stats = await stat(path);
    // "dir/" names a directory; a file there is no such object.
    if (!stats.isDirectory()) throw s3ErrorFor("key-not-found", { Key: key });
    return { bucketDir, path, directory: stats };
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    const object = await this.openObject(bucket, key);
    await object.close();
    return object.info;
  }

  async openObject(bucket: string, key: string): Promise<OpenObject> {
    const { bucketDir, path, directory } = await this.locate(bucket, key);
    if (directory) {
      return {
        info: await this.infoOf(bucketDir, key, path, directory),
        send: async (out) => {
          out.end();
        },
        close: async () => undefined,
      };
    }
    const { file, info } = await openSnapshot(this, { bucketDir, key, path });
    return {
      info,
      // Bounded by the size the headers announced: a file growing meanwhile must not send more.
      send: (out, range) => sendRange(file, range?.start ?? 0, range?.end ?? info.size - 1, out),
      close: () => file.close(),
    };
  }

  async putObject(
    bucket: string,
    key: string,
    input: WriteInput,
    meta: ObjectMeta,
    condition?: WriteCondition,
  ): Promise<ObjectInfo> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    const kp = keyToPath(key);
    if (kp.isDirectory) {
      if (condition) throw s3ErrorFor("conditional-write-of-marker");
      return putDirectoryMarker(this, bucketDir, key, kp.segments, input, meta);
    }
    await checkFreeSpace(bucketDir, input.declaredSize);
    // Checked before the body, created only after it: a refused body leaves no directory behind.
    // The commit checks the same again; a small body is not worth three more file-system calls.
    const size = input.declaredSize;
    if (size === undefined || size > EARLY_CHECK_MIN_BYTES)
      await checkTarget(this.volumes, bucketDir, kp.segments, key);
    const tmp = await this.volumes.tempPath(bucketDir);
    const written = await writeTemp(tmp, input.body, { declaredSize: input.declaredSize });
    let record: StoredRecord;
    try {
      const digest = input.digest();
      record = {
        etag: digest.md5Hex,
        ...written,
        meta: digest.checksum ? { ...meta, checksum: { ...digest.checksum, type: "FULL_OBJECT" } } : meta,
      };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await this.commitInto(bucketDir, kp.segments, key, tmp, record, condition);
    return {
      key,
      size: written.size,
      lastModified: new Date(written.mtimeMs),
      etag: record.etag,
      meta: record.meta,
    };
  }

  private commitInto(
    bucketDir: string,
    segments: readonly string[],
    key: string,
    tmp: string,
    record: StoredRecord,
    condition?: WriteCondition,
  ): Promise<void> {
    const guard = condition ? this.guard(bucketDir, key, condition) : undefined;
    return commitAtKey(this.volumes, this.meta, { bucketDir, segments, key }, tmp, record, guard);
  }

  /** How a conditional write reads what the key holds at commit time. */
  guard(bucketDir: string, key: string, condition: WriteCondition): CommitGuard {
    return { condition, current: (path) => this.currentVersion(bucketDir, key, path) };
  }

  /** ETag and inode of the file at `path` now, or undefined if there is none. */
  async currentVersion(
    bucketDir: string,
    key: string,
    path: string,
  ): Promise<{ etag: string; ino: number } | undefined> {
    let snapshot: Snapshot;
    try {
      snapshot = await openSnapshot(this, { bucketDir, key, path });
    } catch (err) {
      if ((err as S3Error).code === "NoSuchKey") return undefined;
      throw err;
    }
    await snapshot.file.close();
    return { etag: snapshot.info.etag, ino: snapshot.stats.ino };
  }

  async copyObject(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    meta: ObjectMeta | undefined,
    condition?: WriteCondition,
  ): Promise<ObjectInfo> {
    const src = await this.openSource(source.bucket, source.key);
    try {
      return await copyOpened(this, src, source, target, meta, condition);
    } finally {
      await src.file.close();
    }
  }

  /** A copy source, opened once (a snapshot: a version renamed in meanwhile is not mixed in). */
  private async openSource(bucket: string, key: string): Promise<Snapshot> {
    const src = await this.locate(bucket, key);
    if (src.directory) throw s3ErrorFor("copy-of-marker", { Key: key });
    return openSnapshot(this, { bucketDir: src.bucketDir, key, path: src.path });
  }

  async deleteObject(bucket: string, key: string, condition?: WriteCondition): Promise<void> {
    return deleteObjectAt(this, await this.volumes.bucketDir(bucket), key, condition);
  }

  async *list(bucket: string, query: ListQuery): AsyncIterable<ListEntry> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    yield* walkKeys(this.walkContext(bucketDir), query);
  }

  async describe(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const bucketDir = await this.volumes.bucketDir(bucket);
      const path = join(bucketDir, ...key.split("/").filter(Boolean));
      return await this.infoOf(bucketDir, key, path);
    } catch {
      return undefined;
    }
  }

  createMultipartUpload(
    bucket: string,
    key: string,
    meta: ObjectMeta,
    checksum?: ChecksumChoice,
  ): Promise<UploadInfo> {
    return this.multipart.create(bucket, key, meta, checksum);
  }

  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    input: WriteInput,
  ): Promise<PartInfo> {
    return this.multipart.uploadPart(bucket, key, uploadId, partNumber, input);
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: { bucket: string; key: string; range?: { start: number; end: number } },
  ): Promise<PartInfo> {
    const src = await this.openSource(source.bucket, source.key);
    try {
      return await this.multipart.uploadPartCopy(
        bucket,
        key,
        uploadId,
        partNumber,
        { path: openedPath(src.file, src.path), size: src.info.size },
        source.range,
      );
    } finally {
      await src.file.close();
    }
  }

  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    condition?: WriteCondition,
    checksum?: ExpectedChecksum,
  ): Promise<ObjectInfo> {
    return this.multipart.complete(bucket, key, uploadId, parts, condition, checksum);
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.multipart.abort(bucket, key, uploadId);
  }

  listMultipartUploads(bucket: string): Promise<UploadInfo[]> {
    return this.multipart.list(bucket);
  }

  listParts(
    bucket: string,
    key: string,
    uploadId: string,
  ): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
    return this.multipart.listParts(bucket, key, uploadId);
  }
}
