import { constants } from "node:fs";
import { copyFile, type FileHandle, open, rename, rm, statfs } from "node:fs/promises";
import type { Readable } from "node:stream";
import { S3Error, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { MetaStore, StoredRecord } from "./meta-store.js";

/** Refuse early (before writing) when the announced size cannot fit on the volume. */
export async function checkFreeSpace(dir: string, size: number | undefined): Promise<void> {
  if (size === undefined || size === 0) return;
  let free: number;
  try {
    const fsInfo = await statfs(dir);
    free = fsInfo.bavail * fsInfo.bsize;
  } catch {
    return;
  }
  if (size > free) {
    throw new S3Error(
      "EntityTooLarge",
      `The upload is ${size} bytes but the volume has only ${free} bytes free; free space or grow the volume.`,
    );
  }
}

const BATCH_BYTES = 1 << 20;
/** Start flushing to disk in the background every this many bytes, so the final fsync is short. */
const FLUSH_EVERY_BYTES = 32 << 20;

/**
 * Append a stream to an open file, batching small network chunks into ~1 MiB writev calls.
 * One batch is written while the next is read (double buffering); back-pressure holds
 * memory to about two batches.
 */
export async function appendStream(
  handle: FileHandle,
  body: AsyncIterable<unknown>,
  onChunk?: (chunk: Buffer) => void,
): Promise<number> {
  let batch: Buffer[] = [];
  let batched = 0;
  let total = 0;
  let inFlight: Promise<void> | undefined;
  // Overlap the disk flush with receiving: the data is fsynced at the end either way.
  let flushing: Promise<void> | undefined;
  let sinceFlush = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      onChunk?.(buf);
      batch.push(buf);
      batched += buf.length;
      if (batched >= BATCH_BYTES) {
        await inFlight;
        inFlight = writeAll(handle, batch, batched);
        total += batched;
        sinceFlush += batched;
        batch = [];
        batched = 0;
        if (sinceFlush >= FLUSH_EVERY_BYTES && flushing === undefined) {
          sinceFlush = 0;
          const started = inFlight.then(() => handle.datasync());
          flushing = started.finally(() => {
            flushing = undefined;
          });
          flushing.catch(() => undefined);
        }
      }
    }
    await inFlight;
    await flushing;
  } catch (err) {
    await inFlight?.catch(() => undefined);
    await flushing?.catch(() => undefined);
    throw err;
  }
  if (batched > 0) await writeAll(handle, batch, batched);
  return total + batched;
}

/** writev may write less than asked (signals, huge batches); write the rest. */
async function writeAll(handle: FileHandle, buffers: Buffer[], length: number): Promise<void> {
  let { bytesWritten } = await handle.writev(buffers);
  while (bytesWritten < length) {
    const rest = Buffer.concat(buffers).subarray(bytesWritten);
    const more = await handle.write(rest, 0, rest.length);
    bytesWritten += more.bytesWritten;
  }
}

export interface Committed {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Stream a body into a temporary file, fsync it and return its stamp. The temporary is removed
 * on any failure (bad checksum, disconnect, full disk), so nothing partial is ever visible.
 */
export async function writeTemp(
  tmp: string,
  body: Readable,
  onChunk?: (chunk: Buffer) => void,
): Promise<Committed> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, "wx", 0o644);
    await appendStream(handle, body, onChunk);
    await handle.sync();
    const info = await handle.stat();
    return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
  } catch (err) {
    await rm(tmp, { force: true });
    throw s3ErrorFromFs(err);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Copy a file into a temporary (a reflink where the file system can), fsynced. */
export async function copyToTemp(source: string, tmp: string): Promise<Committed> {
  try {
    await copyFile(source, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const handle = await open(tmp, "r+");
    try {
      await handle.sync();
      const info = await handle.stat();
      return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw s3ErrorFromFs(err);
  }
}

/**
 * Attach the record and rename the temporary over the key: readers see the old object or the
 * new one, never a torn one. With xattrs the record travels with the file; a sidecar is written
 * after the rename (its stamp check makes a crash in between harmless).
 */
export async function commitTemp(
  store: MetaStore,
  at: { bucketDir: string; key: string },
  tmp: string,
  target: string,
  record: StoredRecord,
): Promise<void> {
  try {
    if (store.attachesToFile) await store.write({ ...at, path: tmp }, record);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
      throw new S3Error("ExistingObjectIsDirectory", undefined, { Key: at.key });
    }
    throw s3ErrorFromFs(err, { key: at.key });
  }
  if (!store.attachesToFile) await store.write({ ...at, path: target }, record);
}
