import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boto3Async, clientEnv, type RunningGateway, startGateway, WORKER_COUNTS } from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // A volume mounted from a file system that refuses user extended attributes (ramfs, like a network
  // file system without xattr support) under a root that keeps them: with the default
  // `--metadata auto` that volume's ETags and metadata go to the sidecar tree, the other volume keeps
  // using xattrs, and both survive a restart of the gateway.
  describe("volumes without extended attributes", () => {
    const root = mkdtempSync(join(tmpdir(), "podkit-s3-noxattr-"));
    const plain = join(root, "vol-xattr");
    const bare = join(root, "vol-noxattr");
    let gw: RunningGateway | undefined;

    beforeAll(() => {
      mkdirSync(plain);
      mkdirSync(bare);
      execFileSync("mount", ["-t", "ramfs", "podkit-s3-noxattr", bare]);
    });

    afterAll(async () => {
      await gw?.stop();
      execFileSync("umount", [bare]);
      rmSync(root, { recursive: true, force: true });
    });

    const script = (phase: "write" | "read") => `
import os, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  config=botocore.config.Config(signature_version="s3v4", retries={"max_attempts": 1}))
for bucket in ("vol-noxattr", "vol-xattr"):
    if "${phase}" == "write":
        s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"hello", ContentType="text/x-notes",
                      Metadata={"owner": "alice"})
        up = s3.create_multipart_upload(Bucket=bucket, Key="model.bin", Metadata={"step": "42"})["UploadId"]
        parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="model.bin", UploadId=up,
                  PartNumber=n, Body=bytes([n]) * (5 << 20 if n == 1 else 1000))["ETag"]} for n in (1, 2)]
        s3.complete_multipart_upload(Bucket=bucket, Key="model.bin", UploadId=up, MultipartUpload={"Parts": parts})
    small = s3.head_object(Bucket=bucket, Key="notes/readme.txt")
    big = s3.head_object(Bucket=bucket, Key="model.bin")
    print(bucket, small["ETag"], small["ContentType"], small["Metadata"], big["ETag"], big["Metadata"])
`;

    it("keeps ETags and metadata in the sidecar store, across a restart", async () => {
      gw = await startGateway(root, [], workers);
      const written = await boto3Async(clientEnv(gw), script("write"));
      expect(written.code, written.stderr.slice(-800)).toBe(0);
      await gw.stop();
      gw = await startGateway(root, [], workers);
      const read = await boto3Async(clientEnv(gw), script("read"));
      expect(read.code, read.stderr.slice(-800)).toBe(0);

      const lines = written.stdout.trim().split("\n");
      expect(read.stdout.trim().split("\n")).toEqual(lines);
      // The multipart ETag (md5 of the part md5s) cannot be recomputed from the file: it was stored.
      for (const [i, bucket] of ["vol-noxattr", "vol-xattr"].entries()) {
        expect(lines[i]).toMatch(
          new RegExp(
            `^${bucket} "5d41402abc4b2a76b9719d911017c592" text/x-notes \\{'owner': 'alice'\\} "[0-9a-f]{32}-2" \\{'step': '42'\\}$`,
          ),
        );
      }
      // Where the records went: a sidecar tree on the volume without xattrs, none on the other.
      expect(readdirSync(join(bare, ".s3compat_uploads", "meta")).length).toBeGreaterThan(0);
      expect(existsSync(join(plain, ".s3compat_uploads", "meta"))).toBe(false);
      const xattrs = execFileSync("/usr/bin/python3", [
        "-c",
        "import os, sys; print(os.listxattr(sys.argv[1]))",
        join(plain, "model.bin"),
      ]).toString();
      expect(xattrs).toContain("user.s3compat");
    });
  });
});
