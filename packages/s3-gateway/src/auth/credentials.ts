import { readFileSync } from "node:fs";
import { extname } from "node:path";
import {
  ConfigError,
  parseWith,
  type S3Credential,
  type S3CredentialsFile,
  S3CredentialsFileSchema,
} from "@podkit/core";
import { parse as parseToml } from "smol-toml";

/** The key pairs a gateway accepts, each limited to a list of volumes (buckets). */
export class CredentialStore {
  private readonly byAccessKey: Map<string, S3Credential>;

  constructor(credentials: readonly S3Credential[]) {
    if (credentials.length === 0) {
      throw new ConfigError(
        "the S3 gateway needs at least one key pair: give --credentials FILE or set PODKIT_S3_ACCESS_KEY and PODKIT_S3_SECRET_KEY (anonymous access is not offered)",
      );
    }
    this.byAccessKey = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }

  lookup(accessKeyId: string): S3Credential | undefined {
    return this.byAccessKey.get(accessKeyId);
  }

  static canAccess(credential: S3Credential, bucket: string): boolean {
    return credential.volumes.includes("*") || credential.volumes.includes(bucket);
  }
}

/**
 * Read a credentials file (`.json`, or TOML otherwise) shaped like core's S3CredentialsFileSchema:
 * `[[credentials]] accessKeyId = "…" secretAccessKey = "…" volumes = ["vol-a"]`.
 */
export function readCredentialsFile(path: string): S3CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the S3 credentials file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new ConfigError(
      `the S3 credentials file ${path} is not valid ${extname(path) === ".json" ? "JSON" : "TOML"}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return parseWith(S3CredentialsFileSchema, data, `S3 credentials file ${path}`);
}

/** Key pairs from a file and/or PODKIT_S3_ACCESS_KEY + PODKIT_S3_SECRET_KEY (reaching every volume). */
export function loadCredentials(options: {
  file?: string;
  env?: Record<string, string | undefined>;
}): S3Credential[] {
  const out: S3Credential[] = [];
  if (options.file) out.push(...readCredentialsFile(options.file).credentials);
  const env = options.env ?? {};
  const accessKeyId = env.PODKIT_S3_ACCESS_KEY;
  const secretAccessKey = env.PODKIT_S3_SECRET_KEY;
  if (accessKeyId || secretAccessKey) {
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigError("set both PODKIT_S3_ACCESS_KEY and PODKIT_S3_SECRET_KEY, or neither");
    }
    out.push(
      parseWith(
        S3CredentialsFileSchema.shape.credentials.element,
        { accessKeyId, secretAccessKey, volumes: ["*"] },
        "PODKIT_S3_ACCESS_KEY / PODKIT_S3_SECRET_KEY",
      ),
    );
  }
  return out;
}
