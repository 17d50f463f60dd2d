/** Directory markers (`dir/` keys): an empty directory with a metadata record of its own. */

import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { s3ErrorFor, s3ErrorFromFs } from "../../errors/s3-errors.js";
import type { ObjectInfo, ObjectMeta, WriteInput } from "../types.js";
import { EMPTY_MD5 } from "./etags.js";
import type { VolumeRoot } from "./files.js";
import type { MetaStore } from "./meta-store.js";

/** Drain a body that must be empty (directory markers); anything in it is refused. */
async function expectEmpty(input: WriteInput, key: string): Promise<void> {
  let bytes = 0;
  for await (const chunk of input.body) bytes += (chunk as Buffer).length;
  if (bytes > 0) {
    throw s3ErrorFor("marker-with-body", {
      Key: key,
    });
  }
}

/** PUT of a `dir/` key: make the directory (a file there is refused) and record its metadata. */
export async function putDirectoryMarker(
  ctx: { volumes: VolumeRoot; meta: MetaStore },
  bucketDir: string,
  key: string,
  segments: string[],
  input: WriteInput,
  meta: ObjectMeta,
): Promise<ObjectInfo> {
  await expectEmpty(input, key);
  const { parent } = await ctx.volumes.prepareParent(bucketDir, segments, key);
  const dir = join(parent, segments[segments.length - 1]!);
  try {
    await mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw s3ErrorFromFs(err, { key });
    if (!(await stat(dir)).isDirectory()) throw s3ErrorFor("file-has-marker-name", { Key: key });
  }
  const info = await stat(dir);
  await ctx.meta.write(
    { bucketDir, key, path: dir },
    { etag: EMPTY_MD5, size: 0, mtimeMs: info.mtimeMs, ino: info.ino, meta, directoryMarker: true },
  );
  return { key, size: 0, lastModified: info.mtime, etag: EMPTY_MD5, meta };
}
