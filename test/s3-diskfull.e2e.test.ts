import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boto3Async, clientEnv, type RunningGateway, startGateway, WORKER_COUNTS } from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // A volume that fills up while the gateway writes (a 12 MiB tmpfs): CompleteMultipartUpload of two
  // 5 MiB parts has no room to assemble them, and a PutObject loses its room to a Pod mid-body.
  // The client runs asynchronously so a gateway that died would show (it once did: a failed write
  // rejected while no one awaited it yet, an unhandled rejection that ended the process).
  describe("a volume that fills up mid-write", () => {
    const root = mkdtempSync(join(tmpdir(), "podkit-s3-full-"));
    const volume = join(root, "vol-full");
    let gw: RunningGateway;

    beforeAll(async () => {
      mkdirSync(volume);
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=12m", "podkit-s3-full", volume]);
      gw = await startGateway(root, [], workers);
    });

    afterAll(async () => {
      await gw?.stop();
      execFileSync("umount", [volume]);
      rmSync(root, { recursive: true, force: true });
    });

    it("answers 507 InsufficientStorage, shows no partial object, and the upload can be retried", async () => {
      const r = await boto3Async(
        { ...clientEnv(gw), VOLUME: volume },
        `
import http.client, os, time, urllib.parse, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  config=botocore.config.Config(signature_version="s3v4", retries={"max_attempts": 1}))
vol = os.environ["VOLUME"]
MiB = 1 << 20

# CompleteMultipartUpload runs out of space: two 5 MiB parts cannot be assembled into 10 more MiB.
up = s3.create_multipart_upload(Bucket="vol-full", Key="model.bin")["UploadId"]
parts = []
for n in (1, 2):
    etag = s3.upload_part(Bucket="vol-full", Key="model.bin", UploadId=up, PartNumber=n, Body=bytes([n]) * (5 * MiB))["ETag"]
    parts.append({"ETag": etag, "PartNumber": n})
try:
    s3.complete_multipart_upload(Bucket="vol-full", Key="model.bin", UploadId=up, MultipartUpload={"Parts": parts})
    print("COMPLETED")
except botocore.exceptions.ClientError as e:
    print("COMPLETE", e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
print("OBJECTS", len(s3.list_objects_v2(Bucket="vol-full").get("Contents", [])))
print("PARTS", len(s3.list_parts(Bucket="vol-full", Key="model.bin", UploadId=up)["Parts"]))
s3.abort_multipart_upload(Bucket="vol-full", Key="model.bin", UploadId=up)

# PutObject runs out of space mid-body: the announced 8 MiB fit when the request started, then a
# Pod fills the volume while the body is still arriving.
url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": "vol-full", "Key": "big.bin"}))
conn = http.client.HTTPConnection(url.hostname, url.port)
conn.putrequest("PUT", url.path + "?" + url.query)
conn.putheader("Content-Length", str(8 * MiB))
conn.endheaders()
conn.send(b"a" * (3 * MiB))
time.sleep(0.3)
st = os.statvfs(vol)
with open(os.path.join(vol, "pod-filler.bin"), "wb") as f:
    f.write(b"p" * (st.f_bavail * st.f_frsize - 4 * MiB))
conn.send(b"a" * (5 * MiB))
res = conn.getresponse()
body = res.read().decode()
print("PUT", res.status, "<Code>InsufficientStorage</Code>" in body)
conn.close()
try:
    s3.head_object(Bucket="vol-full", Key="big.bin")
    print("HEAD found")
except botocore.exceptions.ClientError as e:
    print("HEAD", e.response["ResponseMetadata"]["HTTPStatusCode"])
print("TEMPS", os.listdir(os.path.join(vol, ".s3compat_uploads", "tmp")))

# Once space is freed the volume works as before.
os.remove(os.path.join(vol, "pod-filler.bin"))
s3.put_object(Bucket="vol-full", Key="small.txt", Body=b"still usable")
print("AFTER", s3.get_object(Bucket="vol-full", Key="small.txt")["Body"].read().decode())
`,
      );
      expect(
        r.code,
        `${r.stderr.slice(-600)}\ngateway exit ${gw.proc.exitCode} ${gw.proc.signalCode}; log:\n${gw.log().slice(-3000)}`,
      ).toBe(0);
      expect(r.stdout.trim().split("\n")).toEqual([
        "COMPLETE 507 InsufficientStorage",
        "OBJECTS 0",
        "PARTS 2",
        "PUT 507 True",
        "HEAD 404",
        "TEMPS []",
        "AFTER still usable",
      ]);
      // Nothing half-written is left beside the keys: only the small object and the hidden upload area.
      expect(readdirSync(volume).sort()).toEqual([".s3compat_uploads", "small.txt"].sort());
      expect(gw.proc.exitCode).toBeNull();
    });
  });
});
