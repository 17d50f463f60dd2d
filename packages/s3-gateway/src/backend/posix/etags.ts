import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { CHUNK_BYTES, giveBack, takeChunk } from "./chunk-pool.js";
import { tryClaim } from "./key-lock.js";
import type { MetaLocation, MetaStore, StoredRecord } from "./meta-store.js";
import { stampMatches } from "./meta-store.js";
import { OpenFile } from "./open-file.js";

/** Files up to this size that appeared behind the gateway's back get their MD5 on first sight. */
export const LAZY_MD5_SYNC_LIMIT = 16 * 1024 * 1024;

export const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

/** MD5 of a file's bytes; `size` (from a stat) picks the buffer: small files need no 1 MiB one. */
export async function md5OfFile(path: string, size = CHUNK_BYTES): Promise<string> {
  const file = await OpenFile.open(path, "r");
  try {
    return await md5OfHandle(file, size);
  } finally {
    await file.close();
  }
}

/** MD5 of an open file's bytes from its start (positional reads: the handle's offset is untouched). */
export async function md5OfHandle(file: OpenFile, size = CHUNK_BYTES): Promise<string> {
  const hash = createHash("md5");
  // One byte more than expected, so a file read whole ends with a single extra read of 0 bytes;
  // a file that grew since its stat moves on to a pooled 1 MiB buffer.
  let pooled = size >= CHUNK_BYTES;
  let buf = pooled ? takeChunk() : Buffer.allocUnsafe(size + 1);
  try {
    for (let position = 0; ; ) {
      const bytesRead = await file.read(buf, 0, buf.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      hash.update(buf.subarray(0, bytesRead)); // update copies: the buffer is free again at once
      if (!pooled && bytesRead === buf.length) {
        buf = takeChunk();
        pooled = true;
      }
    }
  } finally {
    if (pooled) giveBack(buf);
  }
  return hash.digest("hex");
}

interface Stat {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * ETags for files the gateway did not write (created from a Pod). Small files are hashed at once
 * and the MD5 cached in the metadata store keyed by (size, mtime, inode); big ones are queued
 * for hashing in the background (one at a time) and meanwhile carry a stable placeholder
 * ETag shaped like a multipart one (`<hex>-1`), which clients do not treat as an MD5. A listing
 * therefore never waits minutes for a checksum — the reference's "same next token" failure.
 */
export class LazyEtags {
  private readonly queue: Array<{ at: MetaLocation; base: StoredRecord | undefined }> = [];
  private readonly queued = new Set<string>();
  private running = false;
  private stopped = false;

  constructor(private readonly store: MetaStore) {}

  /** `file`: the open file `info` describes, hashed instead of whatever `at.path` names by now. */
  async etagFor(
    at: MetaLocation,
    info: Stat,
    record: StoredRecord | undefined,
    file?: OpenFile,
  ): Promise<string> {
    if (stampMatches(record, info)) return record.etag;
    if (info.size === 0) return EMPTY_MD5;
    if (info.size <= LAZY_MD5_SYNC_LIMIT) {
      const etag = file ? await md5OfHandle(file, info.size) : await md5OfFile(at.path, info.size);
      await this.remember(at, info, etag, record);
      return etag;
    }
    this.enqueue(at, record);
    return `${createHash("md5").update(`${info.ino}:${info.size}:${info.mtimeMs}`).digest("hex")}-1`;
  }

  /** Cache a computed MD5, unless the file changed while it was being hashed. */
  private async remember(
    at: MetaLocation,
    before: Stat,
    etag: string,
    base: StoredRecord | undefined,
  ): Promise<void> {
    try {
      const after = await stat(at.path);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ino !== before.ino) return;
      await this.store.write(at, {
        etag,
        size: after.size,
        mtimeMs: after.mtimeMs,
        ino: after.ino,
        // Content headers and user metadata survive a rewrite from a Pod; the checksum does not.
        meta: { ...(base?.meta ?? { headers: {}, userMeta: {} }), checksum: undefined },
      });
    } catch {
      // read-only volume or permissions: the MD5 is simply recomputed next time
    }
  }

  private enqueue(at: MetaLocation, base: StoredRecord | undefined): void {
    if (this.queued.has(at.path)) return;
    this.queued.add(at.path);
    this.queue.push({ at, base });
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && !this.stopped) {
      const job = this.queue.shift()!;
      try {
        await this.hashOnce(job.at, job.base);
      } catch {
        // vanished meanwhile
      }
      this.queued.delete(job.at.path);
    }
    this.running = false;
  }

  /**
   * Hash a big file once for every gateway process on the volume: skipped when its MD5 is already
   * stored (another worker or gateway got there first), or while another live process holds the
   * claim (its record is read on the next request).
   */
  private async hashOnce(at: MetaLocation, base: StoredRecord | undefined): Promise<void> {
    const before = await stat(at.path);
    if (stampMatches(await this.store.read(at), before)) return;
    const name = `md5-${createHash("sha256").update(at.key).digest("hex")}`;
    const release = await tryClaim(at.bucketDir, name);
    if (!release) return;
    try {
      if (stampMatches(await this.store.read(at), before)) return;
      await this.remember(at, before, await md5OfFile(at.path, before.size), base);
    } finally {
      await release();
    }
  }

  /** Stop background hashing (gateway shutdown). */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  /** Wait for background hashing to finish (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }
}
