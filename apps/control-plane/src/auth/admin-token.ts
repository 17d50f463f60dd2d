import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@podkit/core";
import { newToken } from "./tokens.js";

export const ADMIN_TOKEN_FILE = "admin-token";

/**
 * The admin token: given (flag or PODKIT_ADMIN_TOKEN), else the one kept in the data directory,
 * else a new one written there (mode 0600, via a temporary file so a crash never leaves half a token).
 */
export function resolveAdminToken(
  given: string | undefined,
  dataDir: string,
): { token: string; file: string | null; generated: boolean } {
  if (given !== undefined) {
    if (!given.startsWith("pka_") || given.length < 24) {
      throw new ConfigError("the admin token must start with pka_ and be at least 24 characters long");
    }
    return { token: given, file: null, generated: false };
  }
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token) return { token, file, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`cannot read the admin token from ${file}: ${(err as Error).message}`);
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = newToken("pka");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { token, file, generated: true };
}
