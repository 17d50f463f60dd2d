import { createHash } from "node:crypto";
import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Backoff, sleep } from "@podkit/core";
import { s3ErrorFor } from "../../errors/s3-errors.js";
import { isAbandoned, ownerTag } from "./files.js";
import { RESERVED_DIR } from "./keys.js";

/** How long a conditional write waits for another one on the same key before answering 409. */
const LOCK_WAIT_MS = 10_000;

/**
 * A per-key lock on the volume itself (`.s3compat_uploads/locks/<sha256(key)>`, created with
 * O_EXCL), so conditional writes are atomic across every gateway process sharing the volume,
 * not only inside one. The file names its owner (`<host>-<pid>-…`); a lock whose process is gone
 * is taken over.
 */
export async function withKeyLock<T>(bucketDir: string, key: string, work: () => Promise<T>): Promise<T> {
  const file = join(bucketDir, RESERVED_DIR, "locks", createHash("sha256").update(key).digest("hex"));
  const deadline = Date.now() + LOCK_WAIT_MS;
  // 2, 4, 8 … 50 ms between tries: no jitter, the holders are few and on one volume.
  const backoff = new Backoff(2, 50, () => 1);
  for (;;) {
    if (await takeOwnerFile(file)) break;
    if (Date.now() > deadline) {
      throw s3ErrorFor("conditional-write-running", {
        Key: key,
      });
    }
    await sleep(backoff.next());
  }
  try {
    return await work();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/**
 * Claim a piece of work for this process across every gateway on the volume, without waiting:
 * an O_EXCL file `.s3compat_uploads/locks/<name>` (taken over when its owner is gone). Resolves
 * to the release function, or undefined while another live process holds the claim.
 */
export async function tryClaim(bucketDir: string, name: string): Promise<(() => Promise<void>) | undefined> {
  const file = join(bucketDir, RESERVED_DIR, "locks", name);
  if (!(await takeOwnerFile(file))) return undefined;
  return () => unlink(file).catch(() => undefined);
}

/**
 * Create `file` with O_EXCL naming this process (and its folder if missing); a file left by a
 * process that is gone is removed and taken. False while a live owner holds it.
 */
async function takeOwnerFile(file: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, ownerTag(), { flag: "wx" });
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        await mkdir(dirname(file), { recursive: true });
        continue;
      }
      if (code !== "EEXIST") throw err;
    }
    const owner = await readFile(file, "utf8").catch(() => "");
    if (!owner || !(await isAbandoned(file, owner))) return false;
    await unlink(file).catch(() => undefined);
  }
  return false;
}
