import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll } from "vitest";
import { type S3Gateway, type S3GatewayOptions, startS3Gateway } from "../http/server.js";

export const ACCESS_KEY = "test-access-key";
export const SECRET_KEY = "test-secret-key-0123456789";

export interface Harness {
  root: string;
  gateway: S3Gateway;
  client: S3Client;
  clientWith(options: { secret?: string; accessKey?: string; forcePathStyle?: boolean }): S3Client;
  close(): Promise<void>;
}

/** A gateway over a fresh temporary root with buckets `vol-a` and `vol-b`, and an SDK client for it. */
export async function startHarness(extra: Partial<S3GatewayOptions> = {}): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), "podkit-s3-"));
  mkdirSync(join(root, "vol-a"));
  mkdirSync(join(root, "vol-b"));
  const gateway = await startS3Gateway({
    root,
    listen: "127.0.0.1:0",
    credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, volumes: ["*"] }],
    accessLog: false,
    ...extra,
  });
  const clients: S3Client[] = [];
  const clientWith = (o: { secret?: string; accessKey?: string; forcePathStyle?: boolean }) => {
    const c = new S3Client({
      endpoint: gateway.endpoint,
      region: "us-east-1",
      forcePathStyle: o.forcePathStyle ?? true,
      credentials: { accessKeyId: o.accessKey ?? ACCESS_KEY, secretAccessKey: o.secret ?? SECRET_KEY },
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  };
  const client = clientWith({});
  return {
    root,
    gateway,
    client,
    clientWith,
    close: async () => {
      for (const c of clients) c.destroy();
      await gateway.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The harness of one test file: started before its tests, closed after them. The returned object
 * stands for it (read its fields inside tests, not at the top level of the file).
 */
export function useHarness(extra: Partial<S3GatewayOptions> = {}): Harness {
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness(extra);
  });
  afterAll(async () => {
    await started?.close();
  });
  return new Proxy({} as Harness, {
    get: (_, name) => {
      if (!started) throw new Error("the harness is used before beforeAll started it");
      return Reflect.get(started, name);
    },
  });
}

/** Send a request signed by the SDK's own SigV4 signer, with a raw (already encoded) path. */
export async function signedRequest(
  endpoint: string,
  method: string,
  rawPath: string,
  options: {
    headers?: Record<string, string>;
    body?: Buffer | string;
    secret?: string;
    rawLength?: boolean;
  } = {},
): Promise<{
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  /** Whether the server answered `100 Continue` before the final response. */
  continued: boolean;
}> {
  const { Hash } = await import("@smithy/hash-node");
  const { SignatureV4 } = await import("@smithy/signature-v4");
  const { request } = await import("node:http");
  const signer = new SignatureV4({
    service: "s3",
    region: "us-east-1",
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: options.secret ?? SECRET_KEY },
    sha256: Hash.bind(null, "sha256"),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const url = new URL(endpoint);
  const [path, rawQuery] = rawPath.split("?");
  const query: Record<string, string> = {};
  for (const part of (rawQuery ?? "").split("&").filter(Boolean)) {
    const [k, v] = part.split("=");
    query[decodeURIComponent(k!)] = decodeURIComponent(v ?? "");
  }
  const body = options.body ?? "";
  const signed = await signer.sign({
    method,
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path: path!,
    query,
    headers: {
      host: url.host,
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      ...options.headers,
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      `${endpoint}${rawPath}`,
      {
        method,
        headers: {
          ...signed.headers,
          // rawLength: announce the given content-length, send a shorter body (an early refusal)
          ...(options.rawLength ? {} : { "content-length": String(Buffer.byteLength(body)) }),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers, continued }));
      },
    );
    let continued = false;
    req.on("continue", () => {
      continued = true;
    });
    req.on("error", reject);
    if (options.rawLength) req.write(body);
    else req.end(body);
  });
}
