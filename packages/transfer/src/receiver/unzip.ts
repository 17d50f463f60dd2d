import { createWriteStream } from "node:fs";
import { lstat, mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type yauzl from "yauzl";
import { makeDirInside, partPath } from "./disk.js";
import { safeFolder, UnsafeOfferError } from "./safety.js";

// yauzl is loaded only when a zip arrives: most transfers never need it (keeps the receiver's RSS down).
async function openZip(path: string): Promise<yauzl.ZipFile> {
  const { default: lib } = await import("yauzl");
  return new Promise((resolve, reject) =>
    lib.open(path, { lazyEntries: true, decodeStrings: true, strictFileNames: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    ),
  );
}

function entryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream))),
  );
}

/**
 * Unpacks a zip sent in runpodctl's zip mode (`tf`) into `outReal`, streaming each entry. Entry names
 * get the same checks as file metadata; existing files are kept unless `overwrite`.
 */
export async function extractZip(zipPath: string, outReal: string, overwrite: boolean): Promise<string[]> {
  const zip = await openZip(zipPath);
  const written: string[] = [];
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
        zip.once("entry", resolve);
        zip.once("end", () => resolve(null));
        zip.once("error", reject);
        zip.readEntry();
      });
      zip.removeAllListeners("entry");
      zip.removeAllListeners("end");
      zip.removeAllListeners("error");
      if (!entry) break;
      const isDir = entry.fileName.endsWith("/");
      const rel = safeFolder(entry.fileName, JSON.stringify(entry.fileName));
      if (rel === "") continue;
      if (isDir) {
        await makeDirInside(outReal, rel);
        continue;
      }
      const dirReal = await makeDirInside(outReal, dirname(rel) === "." ? "" : dirname(rel));
      const dest = join(dirReal, rel.split("/").pop() as string);
      const exists = await lstat(dest).catch(() => null);
      if (exists && !overwrite) continue;
      if (exists?.isDirectory()) throw new UnsafeOfferError(`zip entry "${rel}" would replace a folder`);
      const tmp = partPath(dest);
      await mkdir(dirname(tmp), { recursive: true });
      await pipeline(await entryStream(zip, entry), createWriteStream(tmp, { flags: "w", mode: 0o644 }));
      await rename(tmp, dest).catch(async (err) => {
        await rm(tmp, { force: true });
        throw err;
      });
      written.push(rel);
    }
  } finally {
    zip.close();
  }
  return written;
}
