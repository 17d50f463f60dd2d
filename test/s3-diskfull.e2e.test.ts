import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boto3, clientEnv, type RunningGateway, startGateway } from "./s3/gateway.js";

// A volume that fills up while the gateway writes: a 12 MiB tmpfs holding two 5 MiB parts has no
// room left for CompleteMultipartUpload to assemble the 10 MiB object.
describe("a volume that fills up mid-write", () => {
  const root = mkdtempSync(join(tmpdir(), "podkit-s3-full-"));
  const volume = join(root, "vol-full");
  let gw: RunningGateway;

  beforeAll(async () => {
    mkdirSync(volume);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=12m", "podkit-s3-full", volume]);
    gw = await startGateway(root);
  });

  afterAll(async () => {
    await gw?.stop();
    execFileSync("umount", [volume]);
    rmSync(root, { recursive: true, force: true });
  });

  it("answers 507 InsufficientStorage, shows no partial object, and the upload can be retried", () => {
    const r = boto3(
      clientEnv(gw),
      `
import os, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  config=botocore.config.Config(signature_version="s3v4", retries={"max_attempts": 1}))
up = s3.create_multipart_upload(Bucket="vol-full", Key="model.bin")["UploadId"]
parts = []
for n in (1, 2):
    etag = s3.upload_part(Bucket="vol-full", Key="model.bin", UploadId=up, PartNumber=n, Body=bytes([n]) * (5 << 20))["ETag"]
    parts.append({"ETag": etag, "PartNumber": n})
try:
    s3.complete_multipart_upload(Bucket="vol-full", Key="model.bin", UploadId=up, MultipartUpload={"Parts": parts})
    print("COMPLETED")
except botocore.exceptions.ClientError as e:
    print("ERROR", e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
listed = s3.list_objects_v2(Bucket="vol-full").get("Contents", [])
print("OBJECTS", len(listed))
print("PARTS", len(s3.list_parts(Bucket="vol-full", Key="model.bin", UploadId=up)["Parts"]))
s3.abort_multipart_upload(Bucket="vol-full", Key="model.bin", UploadId=up)
s3.put_object(Bucket="vol-full", Key="small.txt", Body=b"still usable")
print("AFTER", s3.get_object(Bucket="vol-full", Key="small.txt")["Body"].read().decode())
`,
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toEqual(["ERROR 507 InsufficientStorage", "OBJECTS 0", "PARTS 2", "AFTER still usable"]);
    // Nothing half-written is left beside the keys: only the small object and the hidden upload area.
    expect(readdirSync(volume).sort()).toEqual([".s3compat_uploads", "small.txt"].sort());
  });
});
