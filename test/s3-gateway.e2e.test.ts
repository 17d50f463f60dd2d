import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aws,
  boto3,
  clientEnv,
  PODKIT,
  type RunningGateway,
  rclone,
  s3cmd,
  startGateway,
  WORKER_COUNTS,
} from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // One gateway (the real `podkit s3 serve`) driven by the AWS CLI, s3cmd, rclone and boto3.
  let root: string;
  let work: string;
  let gw: RunningGateway;
  let env: NodeJS.ProcessEnv;

  const TREE: Record<string, string | Buffer> = {
    "dir one/a b.txt": "spaces in both parts\n",
    "dir one/sub/ünïcødé-文件.txt": "unicode\n",
    "hash#tag.txt": "hash\n",
    "plus+sign.txt": "plus\n",
    "per%cent.txt": "percent\n",
    "emoji-😀.txt": "emoji\n",
    "deep/1/2/3/leaf.bin": randomBytes(1024 * 1024 + 17),
  };

  function writeTree(dir: string): void {
    for (const [name, content] of Object.entries(TREE)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
  }

  /** Relative path → sha256 of every file under dir. */
  function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        if (entry.name === ".s3compat_uploads") continue;
        const p = join(d, entry.name);
        if (entry.isDirectory()) walk(p);
        else out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
      }
    };
    walk(dir);
    return out;
  }

  function sha256File(path: string): string {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  }

  const ok = (r: { code: number | null; stderr: string; stdout: string }) => {
    if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "podkit-s3-e2e-root-"));
    work = mkdtempSync(join(tmpdir(), "podkit-s3-e2e-work-"));
    for (const vol of ["vol-aws", "vol-s3cmd", "vol-rclone", "vol-boto", "vol-list"])
      mkdirSync(join(root, vol));
    mkdirSync(join(root, "vol-list", "many"));
    for (let i = 0; i < 2000; i++)
      writeFileSync(join(root, "vol-list", "many", `f${String(i).padStart(4, "0")}.txt`), `${i}`);
    writeFileSync(join(root, "outside.txt"), "not in a volume");
    gw = await startGateway(root, [], workers);
    env = clientEnv(gw);
    writeTree(join(work, "src"));
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  describe("podkit s3 serve with real S3 clients", () => {
    it("AWS CLI: sync, ls, cp, mv, rm of a nested tree with awkward names", () => {
      ok(aws(env, "s3", "sync", "--only-show-errors", join(work, "src"), "s3://vol-aws/tree/"));
      expect(snapshot(join(root, "vol-aws", "tree"))).toEqual(snapshot(join(work, "src")));
      const ls = ok(aws(env, "s3", "ls", "--recursive", "s3://vol-aws/"));
      for (const name of Object.keys(TREE)) expect(ls).toContain(`tree/${name}`);
      // A second sync has nothing to do: sizes and times match.
      expect(ok(aws(env, "s3", "sync", join(work, "src"), "s3://vol-aws/tree/"))).toBe("");
      ok(
        aws(
          env,
          "s3",
          "mv",
          "--only-show-errors",
          "s3://vol-aws/tree/hash#tag.txt",
          "s3://vol-aws/moved/hash#tag.txt",
        ),
      );
      expect(readFileSync(join(root, "vol-aws", "moved", "hash#tag.txt"), "utf8")).toBe("hash\n");
      ok(aws(env, "s3", "cp", "--only-show-errors", "s3://vol-aws/tree/per%cent.txt", join(work, "pc.txt")));
      expect(readFileSync(join(work, "pc.txt"), "utf8")).toBe("percent\n");
      ok(aws(env, "s3", "sync", "--only-show-errors", "s3://vol-aws/tree/", join(work, "aws-down")));
      const expected = snapshot(join(work, "src"));
      delete expected["hash#tag.txt"];
      expect(snapshot(join(work, "aws-down"))).toEqual(expected);
      ok(aws(env, "s3", "rm", "--only-show-errors", "--recursive", "s3://vol-aws/tree/"));
      expect(readdirSync(join(root, "vol-aws")).sort()).toEqual([".s3compat_uploads", "moved"]);
    });

    it("AWS CLI: lists 2,000 keys in pages of 70, and presigns a GET", async () => {
      const out = JSON.parse(
        ok(
          aws(
            env,
            "s3api",
            "list-objects-v2",
            "--bucket",
            "vol-list",
            "--prefix",
            "many/",
            "--page-size",
            "70",
          ),
        ),
      ) as { Contents: Array<{ Key: string }> };
      expect(out.Contents.length).toBe(2000);
      expect(new Set(out.Contents.map((c) => c.Key)).size).toBe(2000);
      const v1 = ok(aws(env, "s3", "ls", "--page-size", "333", "s3://vol-list/many/"));
      expect(v1.trim().split("\n").length).toBe(2000);
      const url = ok(aws(env, "s3", "presign", "s3://vol-list/many/f0042.txt", "--expires-in", "60")).trim();
      expect(await (await fetch(url)).text()).toBe("42");
      expect((await fetch(url.replace("f0042", "f0043"))).status).toBe(403);
    });

    it("AWS CLI: a wrong secret is refused", () => {
      const bad = aws(clientEnv(gw, "wrong-secret-wrong-secret"), "s3", "ls", "s3://vol-list/");
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("SignatureDoesNotMatch");
    });

    it("s3cmd: put (multipart), ls, get, sync, del", () => {
      const big = join(work, "s3cmd-big.bin");
      writeFileSync(big, randomBytes(20 * 1024 * 1024 + 5));
      ok(s3cmd(env, "put", big, "s3://vol-s3cmd/big/s3cmd-big.bin"));
      expect(sha256File(join(root, "vol-s3cmd", "big", "s3cmd-big.bin"))).toBe(sha256File(big));
      ok(s3cmd(env, "sync", `${join(work, "src")}/`, "s3://vol-s3cmd/tree/"));
      expect(snapshot(join(root, "vol-s3cmd", "tree"))).toEqual(snapshot(join(work, "src")));
      const ls = ok(s3cmd(env, "ls", "--recursive", "s3://vol-s3cmd/"));
      expect(ls).toContain("s3://vol-s3cmd/tree/dir one/sub/ünïcødé-文件.txt");
      ok(s3cmd(env, "get", "s3://vol-s3cmd/big/s3cmd-big.bin", join(work, "s3cmd-down.bin")));
      expect(sha256File(join(work, "s3cmd-down.bin"))).toBe(sha256File(big));
      ok(s3cmd(env, "del", "--recursive", "--force", "s3://vol-s3cmd/tree/"));
      expect(snapshot(join(root, "vol-s3cmd"))).toEqual({ "big/s3cmd-big.bin": sha256File(big) });
    });

    it("rclone: copy, check (MD5 ETags), ls with small list chunks, sync down, delete", () => {
      ok(rclone(env, "copy", join(work, "src"), "gw:vol-rclone/tree"));
      // rclone check compares sizes and the MD5s it reads from ETags.
      ok(rclone(env, "check", join(work, "src"), "gw:vol-rclone/tree"));
      const listed = ok(
        rclone(env, "lsf", "-R", "--files-only", "--s3-list-chunk", "3", "gw:vol-rclone/tree"),
      );
      expect(listed.trim().split("\n").sort()).toEqual(Object.keys(TREE).sort());
      const md5 = ok(rclone(env, "md5sum", "gw:vol-rclone/tree/deep/1/2/3/leaf.bin")).split(" ")[0];
      expect(md5).toBe(createHash("md5").update(TREE["deep/1/2/3/leaf.bin"]!).digest("hex"));
      ok(rclone(env, "sync", "gw:vol-rclone/tree", join(work, "rclone-down")));
      expect(snapshot(join(work, "rclone-down"))).toEqual(snapshot(join(work, "src")));
      ok(rclone(env, "delete", "gw:vol-rclone/tree"));
      expect(snapshot(join(root, "vol-rclone"))).toEqual({});
    });

    it("rclone: a 33 MiB multipart upload in 5 MiB chunks (Go's XML encoder writes &#34; in Complete), check, ranged cat", () => {
      const dir = join(work, "rclone-mp");
      mkdirSync(dir);
      const data = randomBytes(33 * 1024 * 1024);
      writeFileSync(join(dir, "big.bin"), data);
      const flags = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"];
      ok(rclone(env, "copy", ...flags, dir, "gw:vol-rclone/mp"));
      expect(sha256File(join(root, "vol-rclone/mp/big.bin"))).toBe(sha256File(join(dir, "big.bin")));
      // A multipart ETag (`-7`): rclone checks the MD5 it stored in the object's metadata.
      ok(rclone(env, "check", dir, "gw:vol-rclone/mp"));
      const offset = 9 * 1024 * 1024 + 17;
      const count = 6 * 1024 * 1024 + 3;
      const r = spawnSync(
        "/usr/bin/rclone",
        [
          "--config",
          join(env.HOME!, "rclone.conf"),
          "cat",
          "--offset",
          String(offset),
          "--count",
          String(count),
          "gw:vol-rclone/mp/big.bin",
        ],
        { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      );
      expect(r.status).toBe(0);
      expect(Buffer.compare(r.stdout, data.subarray(offset, offset + count))).toBe(0);
      ok(rclone(env, "purge", "gw:vol-rclone/mp"));
    });

    it("boto3: 200 MiB multipart upload with SHA256 checksums, compared after download", () => {
      const big = join(work, "boto-200m.bin");
      const chunk = randomBytes(1024 * 1024);
      const pieces: Buffer[] = [];
      for (let i = 0; i < 200; i++) pieces.push(Buffer.from(chunk.map((b) => b ^ i)));
      writeFileSync(big, Buffer.concat(pieces));
      const out = ok(
        boto3(
          { ...env, BIG: big, DOWN: join(work, "boto-down.bin") },
          `
import os, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"])
cfg = TransferConfig(multipart_threshold=16*1024*1024, multipart_chunksize=16*1024*1024, max_concurrency=4)
s3.upload_file(os.environ["BIG"], "vol-boto", "models/big.bin", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=cfg)
head = s3.head_object(Bucket="vol-boto", Key="models/big.bin", ChecksumMode="ENABLED")
print(head["ETag"], head.get("ChecksumSHA256"))
s3.download_file("vol-boto", "models/big.bin", os.environ["DOWN"], Config=cfg)
`,
        ),
      );
      expect(out).toMatch(/^"[0-9a-f]{32}-13" \S+-13$/m);
      expect(statSync(join(root, "vol-boto", "models", "big.bin")).size).toBe(200 * 1024 * 1024);
      expect(sha256File(join(work, "boto-down.bin"))).toBe(sha256File(big));
      rmSync(join(work, "boto-down.bin"));
    });

    it("boto3: Complete with the composite x-amz-checksum-sha256 (-N), then head/get by PartNumber", () => {
      const out = ok(
        boto3(
          env,
          `
import os, boto3, hashlib, base64
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"])
parts = [os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024 + 5)]
up = s3.create_multipart_upload(Bucket="vol-boto", Key="mp/parts.bin", ChecksumAlgorithm="SHA256")
done = []
for i, body in enumerate(parts, 1):
    r = s3.upload_part(Bucket="vol-boto", Key="mp/parts.bin", UploadId=up["UploadId"], PartNumber=i, Body=body, ChecksumAlgorithm="SHA256")
    done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()).decode() + "-2"
try:
    s3.complete_multipart_upload(Bucket="vol-boto", Key="mp/parts.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": done}, ChecksumSHA256="AAAA" + composite[4:])
except ClientError as e:
    print("wrong", e.response["Error"]["Code"])
r = s3.complete_multipart_upload(Bucket="vol-boto", Key="mp/parts.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": done}, ChecksumSHA256=composite)
print("composite", r["ChecksumSHA256"] == composite)
head = s3.head_object(Bucket="vol-boto", Key="mp/parts.bin", PartNumber=2)
print("head", head["PartsCount"], head["ContentLength"])
got = s3.get_object(Bucket="vol-boto", Key="mp/parts.bin", PartNumber=1)
print("get", got["PartsCount"], got["Body"].read() == parts[0])
`,
        ),
      );
      expect(out).toContain("wrong BadDigest");
      expect(out).toContain("composite True");
      expect(out).toContain(`head 2 ${1024 * 1024 + 5}`);
      expect(out).toContain("get 2 True");
    });

    it("boto3: paginates 2,000 keys, presigned PUT, skewed clock and traversal refused", () => {
      const out = ok(
        boto3(
          env,
          `
import os, datetime, urllib.request, urllib.error, boto3, botocore.auth
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"])
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="vol-list", PaginationConfig={"PageSize": 90}) for o in page.get("Contents", [])]
print("keys", len(keys), len(set(keys)))
from botocore.config import Config
try:
    urllib.request.urlopen(urllib.request.Request(s3.generate_presigned_url("put_object", Params={"Bucket": "vol-boto", "Key": "v2.txt"}), data=b"x", method="PUT"))
except urllib.error.HTTPError as e:
    print("sigv2", e.code, b"Signature Version 2" in e.read())
s3v4 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], config=Config(signature_version="s3v4"))
url = s3v4.generate_presigned_url("put_object", Params={"Bucket": "vol-boto", "Key": "presigned/put.txt"}, ExpiresIn=60)
req = urllib.request.Request(url, data=b"presigned body", method="PUT")
print("presigned", urllib.request.urlopen(req).status)
for key in ["../outside.txt", "a/../../outside.txt", "..\\\\outside.txt"]:
    try:
        s3.put_object(Bucket="vol-boto", Key=key, Body=b"pwned")
        print("traversal accepted", key)
    except ClientError as e:
        print("traversal", e.response["ResponseMetadata"]["HTTPStatusCode"])
real = datetime.datetime
class Skewed(real):
    @classmethod
    def utcnow(cls):
        return real.utcnow() - datetime.timedelta(hours=2)
botocore.auth.datetime.datetime = Skewed
try:
    s3.list_objects_v2(Bucket="vol-boto")
    print("skew accepted")
except ClientError as e:
    print("skew", e.response["Error"]["Code"])
`,
        ),
      );
      expect(out).toContain("keys 2000 2000");
      expect(out).toContain("sigv2 400 True");
      expect(out).toContain("presigned 200");
      expect(out).not.toContain("traversal accepted");
      expect(out.match(/^traversal (400|403)$/gm)?.length).toBe(3);
      expect(out).toContain("skew RequestTimeTooSkewed");
      expect(readFileSync(join(root, "vol-boto", "presigned", "put.txt"), "utf8")).toBe("presigned body");
      expect(readFileSync(join(root, "outside.txt"), "utf8")).toBe("not in a volume");
    });

    it("podkit s3 serve refuses to start without credentials or with a missing root", () => {
      const noCreds = spawnSync(
        process.execPath,
        [PODKIT, "s3", "serve", "--root", root, "--listen", "127.0.0.1:0"],
        {
          env: { PATH: process.env.PATH },
          encoding: "utf8",
          timeout: 30_000,
        },
      );
      expect(noCreds.status).toBe(2);
      expect(noCreds.stderr).toContain("PODKIT_S3_ACCESS_KEY");
      const noRoot = spawnSync(process.execPath, [PODKIT, "s3", "serve", "--root", join(root, "missing")], {
        env: { PATH: process.env.PATH, PODKIT_S3_ACCESS_KEY: "abc", PODKIT_S3_SECRET_KEY: "secret-123" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(noRoot.status).toBe(2);
      expect(noRoot.stderr).toContain("is not a directory");
    });

    it("wrote one access-log line per request", () => {
      const lines = gw
        .log()
        .split("\n")
        .filter((l) => l.includes('"msg":"s3 request"'));
      expect(lines.length).toBeGreaterThan(50);
      const sample = JSON.parse(lines.find((l) => l.includes('"op":"PutObject"'))!) as Record<
        string,
        unknown
      >;
      expect(Object.keys(sample)).toEqual(
        expect.arrayContaining(["method", "key", "status", "bytesIn", "bytesOut", "ms"]),
      );
      expect(gw.log()).not.toContain("e2e-secret-key");
    });
  });
});
