import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/**
 * The content shapes of the protocol notes' §15: empty file, exact multiples of 32 KiB, sizes around
 * a chunk boundary, an all-zero file, nested and empty folders, unicode names with spaces, a
 * relative symlink, several files.
 */
export function makeShapes(root: string): string[] {
  const dir = join(root, "shapes");
  mkdirSync(join(dir, "nested/deeper"), { recursive: true });
  mkdirSync(join(dir, "empty folder"), { recursive: true });
  mkdirSync(join(dir, "nested/also empty"), { recursive: true });
  writeFileSync(join(dir, "empty.txt"), "");
  writeFileSync(join(dir, "one-byte"), "x");
  writeFileSync(join(dir, "exact-256KiB.bin"), randomBytes(262_144));
  writeFileSync(join(dir, "nested/32767.bin"), randomBytes(32_767));
  writeFileSync(join(dir, "nested/32769.bin"), randomBytes(32_769));
  writeFileSync(join(dir, "nested/deeper/100000.bin"), randomBytes(100_000));
  writeFileSync(join(dir, "nested/deeper/zeros.bin"), Buffer.alloc(5 * 32_768));
  writeFileSync(join(dir, "ünïcødé name 文件.txt"), "unicode ✓\n".repeat(1000));
  symlinkSync("nested/32767.bin", join(dir, "link to 32767"));
  const extra = join(root, "extra.log");
  writeFileSync(extra, "a second top-level file\n".repeat(5000));
  return [dir, extra];
}

export type Entry =
  | { kind: "file"; size: number; sha256: string }
  | { kind: "dir" }
  | { kind: "link"; target: string };

/** Everything under `dir` (lstat semantics) keyed by relative path, for exact comparison. */
export function snapshot(dir: string, prefix = ""): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  for (const name of readdirSync(dir).sort()) {
    const abs = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out[rel] = { kind: "link", target: readlinkSync(abs) };
    else if (st.isDirectory()) {
      out[rel] = { kind: "dir" };
      Object.assign(out, snapshot(abs, rel));
    } else
      out[rel] = {
        kind: "file",
        size: st.size,
        sha256: createHash("sha256").update(readFileSync(abs)).digest("hex"),
      };
  }
  return out;
}

/** SHA-256 of a file, streamed (files in these suites reach 1 GiB). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Writes `mib` MiB of random bytes to `path`, a MiB at a time. */
export async function writeRandomFile(path: string, mib: number): Promise<void> {
  const w = createWriteStream(path);
  for (let i = 0; i < mib; i++)
    if (!w.write(randomBytes(1024 * 1024))) await new Promise<void>((r) => w.once("drain", () => r()));
  await new Promise<void>((r) => w.end(() => r()));
}
