import { constants, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { ObjectInfo, ObjectMeta } from "../types.js";
import type { LazyEtags } from "./etags.js";
import { type MetaStore, stampMatches } from "./meta-store.js";
import { OpenFile } from "./open-file.js";

const EMPTY_META: ObjectMeta = { headers: {}, userMeta: {} };

/** How often a record written for another version is re-read before the ETag is computed instead. */
const RECORD_RETRIES = 5;

export interface Snapshot {
  /** The open file: every byte sent comes from it, never from whatever the path names later. */
  file: OpenFile;
  /** The key's real path when the file was opened. */
  path: string;
  stats: Stats;
  info: ObjectInfo;
}

export interface SnapshotDeps {
  meta: MetaStore;
  etags: LazyEtags;
}

/**
 * Open the key's file once and describe that open file. Size and times come from its fstat; the
 * metadata record (xattr or sidecar, read by path) counts only if its stamp (size, mtime, inode)
 * is this file's: the inode cannot be reused while we hold it open, so a record of another
 * version never matches. A writer may rename a new version over the key between our open and the
 * record read; then the key is opened again. A record that stays foreign (a sidecar still to be
 * written after its rename, or a file rewritten from a Pod) gives way to the MD5 of the open file.
 *
 * `at.path` is the key's real path (resolved by the caller, which refuses one that leads out of the
 * volume before anything is opened: opening some device files has effects of its own, so a link a
 * Pod made to one must never reach `open`); O_NOFOLLOW refuses a link swapped in since.
 */
export async function openSnapshot(
  deps: SnapshotDeps,
  at: { bucketDir: string; key: string; path: string },
): Promise<Snapshot> {
  for (let attempt = 0; ; attempt++) {
    // O_NONBLOCK: a FIFO made from a Pod must not hang the open (it is then refused as no file).
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;
    const file = await OpenFile.open(at.path, flags).catch((err: unknown) => {
      throw s3ErrorFromFs(err, { key: at.key });
    });
    try {
      const stats = await file.stat();
      if (!stats.isFile()) throw s3ErrorFor("key-not-found", { Key: at.key });
      const record = await deps.meta.read(at);
      const known = record?.meta;
      if (stampMatches(record, stats)) {
        const info = describe(at.key, stats, record.etag, record.meta);
        return { file, path: at.path, stats, info: record.parts ? { ...info, parts: record.parts } : info };
      }
      if (record !== undefined && attempt < RECORD_RETRIES && (await replacedOrLagging(deps, at, stats))) {
        await file.close();
        if (attempt > 0) await new Promise((r) => setTimeout(r, attempt * 2));
        continue;
      }
      const etag = await deps.etags.etagFor(at, stats, record, file);
      // Content headers and user metadata survive a rewrite from a Pod; the checksum does not.
      const meta = known ? { ...known, checksum: undefined } : EMPTY_META;
      return { file, path: at.path, stats, info: describe(at.key, stats, etag, meta) };
    } catch (err) {
      await file.close();
      throw err;
    }
  }
}

/**
 * Whether a mismatching record may be about to match on a second try: the key now names another
 * file (a new version was renamed in), or the metadata lives beside the file (a sidecar is
 * written just after its file's rename).
 */
async function replacedOrLagging(
  deps: SnapshotDeps,
  at: { bucketDir: string; path: string },
  opened: Stats,
): Promise<boolean> {
  const now = await stat(at.path).catch(() => undefined);
  if (now === undefined || now.ino !== opened.ino || now.dev !== opened.dev) return true;
  return !(await deps.meta.attachesToFile(at.bucketDir));
}

function describe(key: string, stats: Stats, etag: string, meta: ObjectMeta): ObjectInfo {
  return { key, size: stats.size, lastModified: stats.mtime, etag, meta };
}

/**
 * A path that opens the very file `file` holds (Linux's /proc/self/fd), for APIs that take a
 * path (copyFile with reflinks, read streams); elsewhere the key's path.
 */
export function openedPath(file: OpenFile, path: string): string {
  return process.platform === "linux" ? `/proc/self/fd/${file.fd}` : path;
}
