import type { Stats } from "node:fs";
import { lstat, mkdir, rm, rmdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { S3Error, s3ErrorFromFs } from "../../errors/s3-errors.js";
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
import { EMPTY_MD5, LazyEtags } from "./etags.js";
import { pruneEmptyParents, VolumeRoot } from "./files.js";
import { withKeyLock } from "./key-lock.js";
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
import {
  type CommitGuard,
  checkFreeSpace,
  checkIfMatch,
  commitAtKey,
  copyToTemp,
  refuseDirectory,
  writeTemp,
} from "./write.js";

export interface PosixBackendOptions {
  root: string;
  /** "auto" probes each volume for extended attributes and falls back to sidecar files where it has none. */
  metadata?: "auto" | "xattr" | "sidecar";
}

const EMPTY_META: ObjectMeta = { headers: {}, userMeta: {} };
/** Bodies above this size are refused for a file-or-directory conflict before they are received. */
const EARLY_CHECK_MIN_BYTES = 64 * 1024;

/** Drain a body that must be empty (directory markers); anything in it is refused. */
async function expectEmpty(input: WriteInput, key: string): Promise<void> {
  let bytes = 0;
  for await (const chunk of input.body) bytes += (chunk as Buffer).length;
  if (bytes > 0) {
    throw new S3Error(
      "InvalidArgument",
      "A key ending in / is a directory marker and must have an empty body.",
      {
        Key: key,
      },
    );
  }
}

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
      throw new S3Error("BucketAlreadyOwnedByYou", undefined, { BucketName: bucket });
    } catch (err) {
      if ((err as S3Error).code !== "NoSuchBucket") throw err;
    }
    await mkdir(join(this.volumes.root, bucket));
  }

  async deleteBucket(bucket: string): Promise<void> {
    const dir = await this.volumes.bucketDir(bucket);
    for await (const _ of walkKeys(this.walkContext(dir), { prefix: "", delimiter: "", after: "" })) {
      throw new S3Error("BucketNotEmpty", `The volume "${bucket}" still holds objects; delete them first.`, {
        BucketName: bucket,
      });
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
   * Resolve a key to its real path inside the volume. Only a directory key (`dir/`) is stat-ed
   * here: a file key is opened next, and that open's fstat says whether it names a file (a
   * directory or a FIFO there is NoSuchKey), one thread-pool call fewer per GET and HEAD.
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
    if (!stats.isDirectory()) throw new S3Error("NoSuchKey", undefined, { Key: key });
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
    const { handle, info } = await openSnapshot(this, { bucketDir, key, path });
    return {
      info,
      // Bounded by the size the headers announced: a file growing meanwhile must not send more.
      send: (out, range) => sendRange(handle, range?.start ?? 0, range?.end ?? info.size - 1, out),
      close: () => handle.close(),
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
      if (condition)
        throw new S3Error("NotImplemented", "Conditional writes of directory markers are not supported.");
      return this.putDirectoryMarker(bucketDir, key, kp.segments, input, meta);
    }
    await checkFreeSpace(bucketDir, input.declaredSize);
    // Checked before the body, created only after it: a refused body leaves no directory behind.
    // The commit checks the same again; a small body is not worth three more file-system calls.
    const size = input.declaredSize;
    if (size === undefined || size > EARLY_CHECK_MIN_BYTES)
      await this.checkTarget(bucketDir, kp.segments, key);
    const tmp = await this.volumes.tempPath(bucketDir);
    const written = await writeTemp(tmp, input.body);
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

  /** Refuse early what a commit would refuse: a file in the parent path, a directory at the key. */
  private async checkTarget(bucketDir: string, segments: readonly string[], key: string): Promise<void> {
    const parent = await this.volumes.checkParent(bucketDir, segments, key);
    if (parent !== undefined) await refuseDirectory(join(parent, segments[segments.length - 1]!), key);
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
  private async currentVersion(
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
    await snapshot.handle.close();
    return { etag: snapshot.info.etag, ino: snapshot.stats.ino };
  }

  private async putDirectoryMarker(
    bucketDir: string,
    key: string,
    segments: string[],
    input: WriteInput,
    meta: ObjectMeta,
  ): Promise<ObjectInfo> {
    await expectEmpty(input, key);
    const { parent } = await this.volumes.prepareParent(bucketDir, segments, key);
    const dir = join(parent, segments[segments.length - 1]!);
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw s3ErrorFromFs(err, { key });
      if (!(await stat(dir)).isDirectory())
        throw new S3Error("ObjectParentIsFile", "A file already has this name.", { Key: key });
    }
    const info = await stat(dir);
    await this.meta.write(
      { bucketDir, key, path: dir },
      { etag: EMPTY_MD5, size: 0, mtimeMs: info.mtimeMs, ino: info.ino, meta, directoryMarker: true },
    );
    return { key, size: 0, lastModified: info.mtime, etag: EMPTY_MD5, meta };
  }

  async copyObject(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    meta: ObjectMeta | undefined,
    condition?: WriteCondition,
  ): Promise<ObjectInfo> {
    const src = await this.openSource(source.bucket, source.key);
    try {
      return await this.copyOpened(src, source, target, meta, condition);
    } finally {
      await src.handle.close();
    }
  }

  /** A copy source, opened once (a snapshot: a version renamed in meanwhile is not mixed in). */
  private async openSource(bucket: string, key: string): Promise<Snapshot & { path: string }> {
    const src = await this.locate(bucket, key);
    if (src.directory)
      throw new S3Error("InvalidRequest", "Directory markers cannot be copied.", { Key: key });
    const snapshot = await openSnapshot(this, { bucketDir: src.bucketDir, key, path: src.path });
    return { ...snapshot, path: src.path };
  }

  private async copyOpened(
    src: Snapshot & { path: string },
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    meta: ObjectMeta | undefined,
    condition?: WriteCondition,
  ): Promise<ObjectInfo> {
    const srcInfo = src.info;
    const bucketDir = await this.volumes.bucketDir(target.bucket);
    const kp = keyToPath(target.key);
    if (kp.isDirectory)
      throw new S3Error("InvalidRequest", "Cannot copy an object onto a directory marker key.");
    const newMeta = meta ?? srcInfo.meta;
    if (source.bucket === target.bucket && source.key === target.key) {
      if (!meta) {
        throw new S3Error(
          "InvalidRequest",
          "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
        );
      }
      // Same object, new metadata: rewrite the record only; the data stays where it is.
      const info = src.stats;
      await this.meta.write(
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
    await this.checkTarget(bucketDir, kp.segments, target.key);
    await checkFreeSpace(bucketDir, srcInfo.size);
    const tmp = await this.volumes.tempPath(bucketDir);
    const written = await copyToTemp(openedPath(src.handle, src.path), tmp);
    const record: StoredRecord = {
      etag: srcInfo.etag,
      ...written,
      meta: { ...newMeta, ...(srcInfo.meta.checksum ? { checksum: srcInfo.meta.checksum } : {}) },
    };
    await this.commitInto(bucketDir, kp.segments, target.key, tmp, record, condition);
    return {
      key: target.key,
      size: written.size,
      lastModified: new Date(written.mtimeMs),
      etag: record.etag,
      meta: record.meta,
    };
  }

  async deleteObject(bucket: string, key: string, condition?: WriteCondition): Promise<void> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    const kp = keyToPath(key);
    if (condition?.ifMatch !== undefined) {
      const ifMatch = condition.ifMatch;
      if (kp.isDirectory)
        throw new S3Error("NotImplemented", "Conditional deletes of directory markers are not supported.");
      // Checked and removed under the key's lock; the inode check catches an unconditional write.
      await withKeyLock(bucketDir, key, async () => {
        const path = await this.volumes.resolveExisting(bucketDir, kp.segments, key).catch(() => undefined);
        const now = path === undefined ? undefined : await this.currentVersion(bucketDir, key, path);
        checkIfMatch(now?.etag, ifMatch, key);
        await this.removeFile(bucketDir, key, path!, now!.ino);
      });
      return;
    }
    const parentReal = await this.volumes
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
        await this.meta.remove(at); // still has content: only the marker goes
        return;
      }
    } else {
      if (info.isDirectory()) return;
      await unlink(path).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw s3ErrorFromFs(err, { key });
      });
    }
    await this.afterRemoval(at);
  }

  /** Unlink the file a conditional delete checked, unless another write replaced it meanwhile. */
  private async removeFile(bucketDir: string, key: string, path: string, ino: number): Promise<void> {
    if ((await lstat(path).catch(() => undefined))?.ino !== ino) {
      throw new S3Error(
        "ConditionalRequestConflict",
        "Another write replaced the object while this delete was checked.",
        {
          Key: key,
        },
      );
    }
    await unlink(path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw s3ErrorFromFs(err, { key });
    });
    await this.afterRemoval({ bucketDir, key, path });
  }

  /** Drop a removed object's sidecar record and the directories it leaves empty. */
  private async afterRemoval(at: { bucketDir: string; key: string; path: string }): Promise<void> {
    const { bucketDir, path } = at;
    if (!(await this.meta.attachesToFile(bucketDir))) await this.meta.remove(at);
    await pruneEmptyParents(bucketDir, path, async (dir) => {
      const rel = `${dir.slice(bucketDir.length + 1)}/`;
      return (await this.meta.read({ bucketDir, key: rel, path: dir }))?.directoryMarker === true;
    });
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
        { path: openedPath(src.handle, src.path), size: src.info.size },
        source.range,
      );
    } finally {
      await src.handle.close();
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
