import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type {
  ChecksumChoice,
  CompletedPart,
  ExpectedChecksum,
  ObjectInfo,
  ObjectMeta,
  PartInfo,
  UploadInfo,
  WriteCondition,
  WriteInput,
} from "../types.js";
import { assembleUpload } from "./assemble.js";
import { isAbandoned, ownerTag, type VolumeRoot } from "./files.js";
import { keyToPath, RESERVED_DIR } from "./keys.js";
import type { MetaStore } from "./meta-store.js";
import type { StoredPart, StoredUpload } from "./upload-records.js";
import { type CommitGuard, checkFreeSpace, writeTemp } from "./write.js";

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
const CLAIM_WAIT_MS = 15 * 60 * 1000;

const UPLOAD_ID = /^[0-9a-f]{32}$/;

function partName(n: number): string {
  return `part-${String(n).padStart(5, "0")}`;
}

function stripQuotes(etag: string): string {
  return etag.trim().replace(/^"|"$/g, "");
}

type Describe = (bucketDir: string, key: string, path: string) => Promise<ObjectInfo>;
type Guard = (bucketDir: string, key: string, condition: WriteCondition) => CommitGuard;

/**
 * Multipart uploads kept in `<volume>/.s3compat_uploads/<uploadId>/`: `upload.json`, one data
 * file per part and a `part-NNNNN.json` record naming it. All state is on the volume, so several
 * gateways over one shared file system serve the same uploads. Complete claims the upload with an
 * exclusive `claim` file, appends the parts once into a temporary (data is written twice in all:
 * part, then object) and renames it into place; a retried Complete finds the object stamped with
 * the upload id and answers the same.
 */
export class Multipart {
  constructor(
    private readonly volumes: VolumeRoot,
    private readonly meta: MetaStore,
    private readonly describe: Describe,
    private readonly guard: Guard,
  ) {}

  private async uploadDir(bucket: string, uploadId: string): Promise<{ bucketDir: string; dir: string }> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    if (!UPLOAD_ID.test(uploadId)) throw s3ErrorFor("upload-not-found", { UploadId: uploadId });
    return { bucketDir, dir: join(bucketDir, RESERVED_DIR, uploadId) };
  }

  private async readUpload(dir: string, uploadId: string, key?: string): Promise<StoredUpload> {
    let upload: StoredUpload;
    try {
      upload = JSON.parse(await readFile(join(dir, "upload.json"), "utf8")) as StoredUpload;
    } catch {
      throw s3ErrorFor("upload-not-found", { UploadId: uploadId });
    }
    if (key !== undefined && upload.key !== key) throw s3ErrorFor("upload-not-found", { UploadId: uploadId });
    return upload;
  }

  private toInfo(uploadId: string, upload: StoredUpload): UploadInfo {
    return {
      uploadId,
      key: upload.key,
      initiated: new Date(upload.initiated),
      meta: upload.meta,
      ...(upload.checksumAlgorithm ? { checksumAlgorithm: upload.checksumAlgorithm } : {}),
      ...(upload.checksumType ? { checksumType: upload.checksumType } : {}),
    };
  }

  async create(
    bucket: string,
    key: string,
    meta: ObjectMeta,
    checksum?: ChecksumChoice,
  ): Promise<UploadInfo> {
    const checksumAlgorithm = checksum?.algorithm;
    const kp = keyToPath(key);
    if (kp.isDirectory) throw s3ErrorFor("multipart-of-marker");
    const uploadId = randomBytes(16).toString("hex");
    const { dir } = await this.uploadDir(bucket, uploadId);
    await mkdir(dir, { recursive: true });
    const type = checksumAlgorithm
      ? (checksum?.type ?? (checksumAlgorithm === "crc64nvme" ? "FULL_OBJECT" : "COMPOSITE"))
      : undefined;
    const upload: StoredUpload = {
      key,
      initiated: new Date().toISOString(),
      meta,
      ...(checksumAlgorithm ? { checksumAlgorithm } : {}),
      ...(type ? { checksumType: type } : {}),
    };
    await writeFile(join(dir, "upload.json"), JSON.stringify(upload));
    return this.toInfo(uploadId, upload);
  }

  private checkPartNumber(partNumber: number): void {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw s3ErrorFor("bad-part-number");
    }
  }

  private async storePart(
    dir: string,
    partNumber: number,
    tmp: string,
    record: StoredPart,
  ): Promise<PartInfo> {
    const dataFile = `${partName(partNumber)}-${record.etag}`;
    await rename(tmp, join(dir, dataFile));
    const previous = await this.readPart(dir, partNumber);
    const jsonTmp = join(dir, `${partName(partNumber)}.json.${randomBytes(4).toString("hex")}`);
    await writeFile(jsonTmp, JSON.stringify({ ...record, file: dataFile }));
    await rename(jsonTmp, join(dir, `${partName(partNumber)}.json`));
    if (previous && previous.file !== dataFile) await unlink(join(dir, previous.file)).catch(() => undefined);
    return {
      partNumber,
      etag: record.etag,
      size: record.size,
      lastModified: new Date(record.lastModified),
      ...(record.checksum ? { checksum: record.checksum } : {}),
    };
  }

  private async readPart(dir: string, partNumber: number): Promise<StoredPart | undefined> {
    try {
      return JSON.parse(await readFile(join(dir, `${partName(partNumber)}.json`), "utf8")) as StoredPart;
    } catch {
      return undefined;
    }
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    input: WriteInput,
  ): Promise<PartInfo> {
    this.checkPartNumber(partNumber);
    const { bucketDir, dir } = await this.uploadDir(bucket, uploadId);
    await this.readUpload(dir, uploadId, key);
    if (input.declaredSize !== undefined && input.declaredSize > MAX_PART_SIZE) {
      throw s3ErrorFor("part-too-large");
    }
    await checkFreeSpace(bucketDir, input.declaredSize);
    const tmp = await this.volumes.tempPath(bucketDir);
    const written = await writeTemp(tmp, input.body, { declaredSize: input.declaredSize });
    const digest = input.digest();
    return this.storePart(dir, partNumber, tmp, {
      etag: digest.md5Hex,
      size: written.size,
      lastModified: new Date(written.mtimeMs).toISOString(),
      file: "",
      ...(digest.checksum ? { checksum: digest.checksum } : {}),
    });
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: { path: string; size: number },
    range: { start: number; end: number } | undefined,
  ): Promise<PartInfo> {
    this.checkPartNumber(partNumber);
    const { bucketDir, dir } = await this.uploadDir(bucket, uploadId);
    await this.readUpload(dir, uploadId, key);
    const size = source.size;
    if (range && (range.start > range.end || range.end >= size)) {
      throw s3ErrorFor("copy-source-range-outside", { size });
    }
    const md5 = createHash("md5");
    const tmp = await this.volumes.tempPath(bucketDir);
    const stream = createReadStream(source.path, {
      highWaterMark: 1 << 20,
      ...(range ?? { start: 0, end: Math.max(size - 1, 0) }),
    });
    const written = await writeTemp(tmp, stream, { onChunk: (chunk) => md5.update(chunk) });
    return this.storePart(dir, partNumber, tmp, {
      etag: md5.digest("hex"),
      size: written.size,
      lastModified: new Date(written.mtimeMs).toISOString(),
      file: "",
    });
  }

  async listParts(
    bucket: string,
    key: string,
    uploadId: string,
  ): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
    const { dir } = await this.uploadDir(bucket, uploadId);
    const upload = await this.readUpload(dir, uploadId, key);
    const parts: PartInfo[] = [];
    for (const name of (await readdir(dir)).sort()) {
      const m = /^part-(\d{5})\.json$/.exec(name);
      if (!m) continue;
      const part = await this.readPart(dir, Number(m[1]));
      if (part) {
        parts.push({
          partNumber: Number(m[1]),
          etag: part.etag,
          size: part.size,
          lastModified: new Date(part.lastModified),
          ...(part.checksum ? { checksum: part.checksum } : {}),
        });
      }
    }
    return { upload: this.toInfo(uploadId, upload), parts };
  }

  async list(bucket: string): Promise<UploadInfo[]> {
    const bucketDir = await this.volumes.bucketDir(bucket);
    const entries = await readdir(join(bucketDir, RESERVED_DIR)).catch(() => [] as string[]);
    const out: UploadInfo[] = [];
    for (const name of entries) {
      if (!UPLOAD_ID.test(name)) continue;
      try {
        out.push(this.toInfo(name, await this.readUpload(join(bucketDir, RESERVED_DIR, name), name)));
      } catch {
        // being completed or aborted right now
      }
    }
    return out;
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const { dir } = await this.uploadDir(bucket, uploadId);
    await this.readUpload(dir, uploadId, key);
    await rm(dir, { recursive: true, force: true });
  }

  /** The object a finished Complete of this upload produced, if the key still holds it. */
  private async completedObject(
    bucketDir: string,
    key: string,
    uploadId: string,
  ): Promise<ObjectInfo | undefined> {
    const kp = keyToPath(key);
    const path = join(bucketDir, ...kp.segments);
    const record = await this.meta.read({ bucketDir, key, path });
    if (record?.uploadId !== uploadId) return undefined;
    return this.describe(bucketDir, key, path);
  }

  /** Take the upload's claim, waiting while a live gateway completes it. */
  private async claim(
    dir: string,
    bucketDir: string,
    key: string,
    uploadId: string,
  ): Promise<"claimed" | ObjectInfo> {
    const claimFile = join(dir, "claim");
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (;;) {
      try {
        await writeFile(claimFile, ownerTag(), { flag: "wx" });
        return "claimed";
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          const done = await this.completedObject(bucketDir, key, uploadId);
          if (done) return done;
          throw s3ErrorFor("upload-not-found", { UploadId: uploadId });
        }
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw s3ErrorFromFs(err);
      }
      const owner = await readFile(claimFile, "utf8").catch(() => "");
      if (owner && (await isAbandoned(claimFile, owner))) {
        await unlink(claimFile).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw s3ErrorFor("upload-completing-elsewhere");
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    wanted: CompletedPart[],
    condition?: WriteCondition,
    checksum?: ExpectedChecksum,
  ): Promise<ObjectInfo> {
    const { bucketDir, dir } = await this.uploadDir(bucket, uploadId);
    let upload: StoredUpload;
    try {
      upload = await this.readUpload(dir, uploadId, key);
    } catch (err) {
      const done = await this.completedObject(bucketDir, key, uploadId);
      if (done) return done; // a retried Complete: same answer
      throw err;
    }
    if (wanted.length === 0) throw s3ErrorFor("complete-without-parts");
    for (let i = 1; i < wanted.length; i++) {
      if (wanted[i]!.partNumber <= wanted[i - 1]!.partNumber) throw s3ErrorFor("parts-out-of-order");
    }
    const parts: StoredPart[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const want = wanted[i]!;
      const part = await this.readPart(dir, want.partNumber);
      if (!part || part.etag !== stripQuotes(want.etag)) {
        throw s3ErrorFor(
          "part-not-uploaded",
          { partNumber: want.partNumber },
          {
            PartNumber: String(want.partNumber),
          },
        );
      }
      if (want.checksum !== undefined && part.checksum && part.checksum.base64 !== want.checksum) {
        throw s3ErrorFor("part-checksum-mismatch", { partNumber: want.partNumber });
      }
      if (i < wanted.length - 1 && part.size < MIN_PART_SIZE) {
        throw s3ErrorFor("part-too-small", { partNumber: want.partNumber, size: part.size });
      }
      parts.push(part);
    }
    const claimed = await this.claim(dir, bucketDir, key, uploadId);
    if (claimed !== "claimed") return claimed;
    const already = await this.completedObject(bucketDir, key, uploadId);
    if (already) {
      await rm(dir, { recursive: true, force: true });
      return already;
    }
    try {
      return await assembleUpload(this.volumes, this.meta, {
        bucketDir,
        dir,
        key,
        uploadId,
        upload,
        parts,
        ...(condition ? { guard: this.guard(bucketDir, key, condition) } : {}),
        ...(checksum ? { expected: checksum } : {}),
      });
    } catch (err) {
      await unlink(join(dir, "claim")).catch(() => undefined);
      throw err;
    }
  }

  /** At start: claims left by killed gateways on this host are released so Complete can be retried. */
  async releaseAbandonedClaims(): Promise<void> {
    for (const bucket of await this.volumes.listBucketDirs()) {
      const reserved = join(this.volumes.root, bucket.name, RESERVED_DIR);
      for (const name of await readdir(reserved).catch(() => [] as string[])) {
        if (!UPLOAD_ID.test(name)) continue;
        const claimFile = join(reserved, name, "claim");
        const owner = await readFile(claimFile, "utf8").catch(() => "");
        if (owner && (await isAbandoned(claimFile, owner))) await unlink(claimFile).catch(() => undefined);
      }
    }
  }
}
