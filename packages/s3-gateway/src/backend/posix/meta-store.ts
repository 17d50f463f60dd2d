import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getAttribute, removeAttribute, setAttribute } from "@napi-rs/xattr";
import type { ObjectMeta } from "../types.js";
import { RESERVED_DIR } from "./keys.js";

const XATTR_NAME = "user.s3compat";

/**
 * What the gateway remembers about a file. The stamp (size, mtime, inode) says which version
 * of the file the ETag belongs to: a file changed from a Pod no longer matches and gets its
 * MD5 recomputed.
 */
export interface StoredRecord {
  etag: string;
  size: number;
  mtimeMs: number;
  ino: number;
  meta: ObjectMeta;
  /** Set on objects made by CompleteMultipartUpload, so a retried Complete can answer again. */
  uploadId?: string;
  /** Their part sizes as runs of [size, count]: usually two runs, whatever the part count. */
  parts?: Array<[number, number]>;
  /** On directories: an explicit `dir/` marker object. */
  directoryMarker?: boolean;
}

export interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function stampMatches(record: StoredRecord | undefined, stamp: FileStamp): record is StoredRecord {
  return (
    record !== undefined &&
    record.size === stamp.size &&
    record.mtimeMs === stamp.mtimeMs &&
    record.ino === stamp.ino
  );
}

export interface MetaLocation {
  bucketDir: string;
  key: string;
  /** The file the record describes (for xattrs, possibly its temporary name before rename). */
  path: string;
}

/** Where records live: extended attributes on the file, or a sidecar tree when the FS has none. */
export interface MetaStore {
  readonly kind: "xattr" | "sidecar" | "auto";
  /**
   * Whether records in this volume travel with the file (xattrs): then they are written on the
   * temporary file before rename, and vanish with the file.
   */
  attachesToFile(bucketDir: string): Promise<boolean>;
  read(at: MetaLocation): Promise<StoredRecord | undefined>;
  write(at: MetaLocation, record: StoredRecord): Promise<void>;
  remove(at: MetaLocation): Promise<void>;
}

function parseRecord(data: Buffer | string | null): StoredRecord | undefined {
  if (data === null) return undefined;
  try {
    const parsed = JSON.parse(data.toString()) as StoredRecord;
    return typeof parsed.etag === "string" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export class XattrMetaStore implements MetaStore {
  readonly kind = "xattr";
  async attachesToFile(): Promise<boolean> {
    return true;
  }

  async read(at: MetaLocation): Promise<StoredRecord | undefined> {
    try {
      return parseRecord(await getAttribute(at.path, XATTR_NAME));
    } catch {
      return undefined;
    }
  }

  async write(at: MetaLocation, record: StoredRecord): Promise<void> {
    await setAttribute(at.path, XATTR_NAME, JSON.stringify(record));
  }

  async remove(at: MetaLocation): Promise<void> {
    try {
      await removeAttribute(at.path, XATTR_NAME);
    } catch {
      // absent already
    }
  }
}

/** `<bucket>/.s3compat_uploads/meta/<ab>/<sha256(key)>.json`: flat, so no key can collide with another. */
export class SidecarMetaStore implements MetaStore {
  readonly kind = "sidecar";
  async attachesToFile(): Promise<boolean> {
    return false;
  }

  private fileFor(at: MetaLocation): string {
    const digest = createHash("sha256").update(at.key).digest("hex");
    return join(at.bucketDir, RESERVED_DIR, "meta", digest.slice(0, 2), `${digest}.json`);
  }

  async read(at: MetaLocation): Promise<StoredRecord | undefined> {
    try {
      return parseRecord(await readFile(this.fileFor(at)));
    } catch {
      return undefined;
    }
  }

  async write(at: MetaLocation, record: StoredRecord): Promise<void> {
    const file = this.fileFor(at);
    await mkdir(join(file, ".."), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, file);
  }

  async remove(at: MetaLocation): Promise<void> {
    await rm(this.fileFor(at), { force: true });
  }
}

/** Probe whether `dir`'s file system keeps user extended attributes. */
export async function supportsXattr(dir: string): Promise<boolean> {
  try {
    await setAttribute(dir, "user.s3compat.probe", "1");
    await removeAttribute(dir, "user.s3compat.probe");
    return true;
  } catch {
    return false;
  }
}

/**
 * "auto": each volume is probed once, because volumes are often mounts of their own (a network
 * file system without user xattrs under a local root): xattrs where the volume's file system keeps
 * them, the sidecar tree where it refuses them.
 */
export class AutoMetaStore implements MetaStore {
  readonly kind = "auto";
  private readonly xattr = new XattrMetaStore();
  private readonly sidecar = new SidecarMetaStore();
  private readonly perVolume = new Map<string, Promise<MetaStore>>();

  private storeFor(bucketDir: string): Promise<MetaStore> {
    let store = this.perVolume.get(bucketDir);
    if (!store) {
      store = supportsXattr(bucketDir).then((yes) => (yes ? this.xattr : this.sidecar));
      this.perVolume.set(bucketDir, store);
    }
    return store;
  }

  async attachesToFile(bucketDir: string): Promise<boolean> {
    return (await this.storeFor(bucketDir)).attachesToFile(bucketDir);
  }

  async read(at: MetaLocation): Promise<StoredRecord | undefined> {
    return (await this.storeFor(at.bucketDir)).read(at);
  }

  async write(at: MetaLocation, record: StoredRecord): Promise<void> {
    await (await this.storeFor(at.bucketDir)).write(at, record);
  }

  async remove(at: MetaLocation): Promise<void> {
    await (await this.storeFor(at.bucketDir)).remove(at);
  }
}
