import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
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
