import { posix } from "node:path";
import { PodkitError } from "@podkit/core";
import type { FileInfo, SenderInfo } from "../protocol/schemas.js";

/** A file the receiver will create, with its path checked to stay inside the destination. */
export interface PlannedFile {
  /** Index in `FilesToTransfer` (what `recipientready` names). */
  index: number;
  info: FileInfo;
  /** Destination folder relative to `--out`, posix separators, "" for the top level. */
  dir: string;
  name: string;
  /** `dir/name`, the path shown to the user. */
  relPath: string;
  symlink?: string;
}

export class UnsafeOfferError extends PodkitError<"E_UNSAFE_METADATA"> {
  constructor(detail: string) {
    super(
      "E_UNSAFE_METADATA",
      `refusing the transfer: the sender's file list is unsafe (${detail}); nothing was written`,
    );
  }
}

const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 4096;
/** C0/C1 controls, DEL, and bidirectional overrides that disguise names on a terminal. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function checkComponent(part: string, what: string): void {
  if (part === "..") throw new UnsafeOfferError(`${what} climbs out with ".."`);
  if (part.includes("\\")) throw new UnsafeOfferError(`${what} contains a backslash`);
  if (UNPRINTABLE.test(part)) throw new UnsafeOfferError(`${what} contains control characters`);
  if (part.toLowerCase() === ".ssh") throw new UnsafeOfferError(`${what} writes into a .ssh folder`);
  if (Buffer.byteLength(part) > MAX_NAME_BYTES)
    throw new UnsafeOfferError(`${what} has a name longer than ${MAX_NAME_BYTES} bytes`);
}

/** `fr` → clean relative folder: forward slashes, `./` for the top, no escapes. */
export function safeFolder(folderRemote: string, what: string): string {
  if (folderRemote.startsWith("/") || /^[A-Za-z]:/.test(folderRemote))
    throw new UnsafeOfferError(`${what} is an absolute path`);
  const parts = folderRemote.split("/").filter((p) => p !== "" && p !== ".");
  for (const p of parts) checkComponent(p, what);
  return parts.join("/");
}

/** A symlink's target must be relative and resolve inside the destination. */
export function safeSymlinkTarget(dir: string, target: string, what: string): void {
  if (target === "" || posix.isAbsolute(target) || /^[A-Za-z]:/.test(target)) {
    throw new UnsafeOfferError(`${what} is a symlink to an absolute path`);
  }
  if (UNPRINTABLE.test(target))
    throw new UnsafeOfferError(`${what} has a symlink target with control characters`);
  const resolved = posix.normalize(posix.join(dir || ".", target));
  if (resolved === ".." || resolved.startsWith("../"))
    throw new UnsafeOfferError(`${what} is a symlink pointing out of the destination`);
  if (resolved.split("/").some((p) => p.toLowerCase() === ".ssh"))
    throw new UnsafeOfferError(`${what} is a symlink into a .ssh folder`);
}

/**
 * Checks every name in a `fileinfo` before anything touches the disk: no absolute paths, no `..`,
 * no `.ssh`, no control characters, no duplicates, symlinks only to places inside `--out`.
 */
export function validateOffer(info: SenderInfo): { files: PlannedFile[]; emptyFolders: string[] } {
  const seen = new Set<string>();
  const claim = (rel: string, what: string): void => {
    if (Buffer.byteLength(rel) > MAX_PATH_BYTES)
      throw new UnsafeOfferError(`${what} has a path that is too long`);
    if (seen.has(rel)) throw new UnsafeOfferError(`${what} appears twice`);
    seen.add(rel);
  };
  const files = (info.FilesToTransfer ?? []).map((f, index): PlannedFile => {
    const what = JSON.stringify(`${f.fr}${f.n}`);
    const dir = safeFolder(f.fr, what);
    if (f.n === "" || f.n === "." || f.n.includes("/"))
      throw new UnsafeOfferError(`${what} has an invalid file name`);
    checkComponent(f.n, what);
    const relPath = dir ? `${dir}/${f.n}` : f.n;
    claim(relPath, what);
    if (f.sy !== undefined && f.sy !== "") safeSymlinkTarget(dir, f.sy, what);
    return { index, info: f, dir, name: f.n, relPath, ...(f.sy ? { symlink: f.sy } : {}) };
  });
  const emptyFolders = (info.EmptyFoldersToTransfer ?? []).map((f) => {
    const what = JSON.stringify(f.fr);
    const dir = safeFolder(f.fr, what);
    if (dir === "") throw new UnsafeOfferError(`${what} is not a folder name`);
    return dir;
  });
  return { files, emptyFolders };
}
