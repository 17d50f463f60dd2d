import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** A random secret in base64url, `bytes` of entropy. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

/** Write a file readable only by its owner, atomically (temp file + rename), so a crash never leaves half of it. */
export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Read a JSON file kept in the data dir, or create it with `make()` on first run. */
export function keepJson<T>(path: string, make: () => T): T {
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as T;
  const value = make();
  writePrivateFile(path, `${JSON.stringify(value, null, 2)}\n`);
  return value;
}
