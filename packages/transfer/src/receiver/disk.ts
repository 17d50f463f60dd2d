import { constants } from "node:fs";
import { lstat, mkdir, open as openFile, readlink, realpath } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { CHUNK_BYTES } from "../crypto/chunks.js";
import { hashFile, type ImohashFlavour } from "../crypto/hash.js";
import type { PlannedFile } from "./safety.js";
import { UnsafeOfferError } from "./safety.js";

/** Where a file is written until its hash is verified: hidden, beside its final name, kept for resume. */
export function partPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.podkit-part`);
}

/** Creates `dir` under `out` and proves no symlink on the way leads outside `out`. */
export async function makeDirInside(outReal: string, dir: string): Promise<string> {
  const abs = join(outReal, dir);
  await mkdir(abs, { recursive: true });
  const real = await realpath(abs);
  if (real !== outReal && !real.startsWith(outReal + sep)) {
    throw new UnsafeOfferError(`"${dir}" leads outside the destination through an existing symlink`);
  }
  return real;
}

export type ExistingState = { kind: "absent" } | { kind: "same" } | { kind: "different"; reason: string };

/** Compares what is already at the destination with what the sender offers. */
export async function existingState(
  dest: string,
  file: PlannedFile,
  hashAlgorithm: string | undefined,
  flavour: ImohashFlavour,
): Promise<ExistingState> {
  const st = await lstat(dest).catch(() => null);
  if (!st) return { kind: "absent" };
  if (file.symlink !== undefined) {
    if (st.isSymbolicLink() && (await readlink(dest)) === file.symlink) return { kind: "same" };
    return { kind: "different", reason: "exists" };
  }
  if (!st.isFile()) return { kind: "different", reason: "exists and is not a regular file" };
  if (st.size !== file.info.s) return { kind: "different", reason: "exists with another size" };
  if (file.info.s === 0) return { kind: "same" };
  const hash = await hashFile(dest, hashAlgorithm, flavour);
  if (hash && file.info.h && hash.equals(Buffer.from(file.info.h, "base64"))) return { kind: "same" };
  return { kind: "different", reason: "exists with other content" };
}

/**
 * Offsets of chunks that are entirely zero in a pre-extended partial file: those are the ones still
 * missing (croc's rule; a genuinely zero chunk is simply sent again).
 */
export async function zeroChunkOffsets(path: string, size: number): Promise<number[]> {
  const handle = await openFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const missing: number[] = [];
    const block = Buffer.allocUnsafe(32 * CHUNK_BYTES);
    for (let start = 0; start < size; start += block.length) {
      const { bytesRead } = await handle.read(block, 0, Math.min(block.length, size - start), start);
      for (let off = 0; off < bytesRead; off += CHUNK_BYTES) {
        const chunk = block.subarray(off, Math.min(off + CHUNK_BYTES, bytesRead));
        if (isAllZero(chunk)) missing.push(start + off);
      }
    }
    return missing;
  } finally {
    await handle.close();
  }
}

const ZERO_PAGE = Buffer.alloc(CHUNK_BYTES);
function isAllZero(chunk: Buffer): boolean {
  return chunk.equals(ZERO_PAGE.subarray(0, chunk.length));
}

/** Opens (creating if needed) a part file without following a planted symlink. */
export async function openPart(path: string): Promise<Awaited<ReturnType<typeof openFile>>> {
  return openFile(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}
