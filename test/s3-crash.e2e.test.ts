import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aws, clientEnv, type RunningGateway, startGateway, WORKER_COUNTS } from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // kill -9 the gateway in the middle of writes; after a restart readers see whole objects only
  // and no temporary stays behind.
  let root: string;
  let work: string;
  let gw: RunningGateway | undefined;
  const MiB = 1024 * 1024;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "podkit-s3-crash-root-"));
    work = mkdtempSync(join(tmpdir(), "podkit-s3-crash-work-"));
    mkdirSync(join(root, "vol-crash"));
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const tmpDir = () => join(root, "vol-crash", ".s3compat_uploads", "tmp");
  const temporaries = () => {
    try {
      return readdirSync(tmpDir());
    } catch {
      return [];
    }
  };
  const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

  function pattern(size: number, seed: number): Buffer {
    const block = Buffer.alloc(MiB);
    for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
    const out = Buffer.alloc(size);
    for (let off = 0; off < size; off += MiB) block.copy(out, off, 0, Math.min(MiB, size - off));
    return out;
  }

  /** Start a client command, kill -9 the gateway as soon as `ready()` holds, then let the client fail. */
  async function killWhile(args: string[], env: NodeJS.ProcessEnv, ready: () => boolean): Promise<boolean> {
    const child = spawn("/usr/bin/aws", ["--endpoint-url", env.ENDPOINT!, ...args], { env, stdio: "ignore" });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let killed = false;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (ready()) {
        await gw!.kill9();
        killed = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    return killed;
  }

  describe("crash safety", () => {
    it("a PUT killed mid-body leaves the previous object whole and no temporary after restart", async () => {
      gw = await startGateway(root, [], workers);
      let env = clientEnv(gw);
      const old = pattern(3 * MiB, 1);
      writeFileSync(join(work, "old.bin"), old);
      expect(
        aws(
          env,
          "s3api",
          "put-object",
          "--bucket",
          "vol-crash",
          "--key",
          "obj.bin",
          "--body",
          join(work, "old.bin"),
        ).code,
      ).toBe(0);
      writeFileSync(join(work, "new.bin"), pattern(200 * MiB, 2));
      const killed = await killWhile(
        ["s3api", "put-object", "--bucket", "vol-crash", "--key", "obj.bin", "--body", join(work, "new.bin")],
        env,
        () => temporaries().some((name) => statSync(join(tmpDir(), name)).size > 16 * MiB),
      );
      expect(killed).toBe(true);
      // the half-written temporary is there until the next start cleans it
      expect(temporaries().length).toBe(1);
      gw = await startGateway(root, [], workers);
      env = clientEnv(gw);
      expect(temporaries()).toEqual([]);
      expect(
        aws(env, "s3", "cp", "--only-show-errors", "s3://vol-crash/obj.bin", join(work, "got.bin")).code,
      ).toBe(0);
      expect(sha(readFileSync(join(work, "got.bin")))).toBe(sha(old));
      rmSync(join(work, "new.bin"));
    });

    it("a CompleteMultipartUpload killed mid-assembly leaves whole objects and can be retried", async () => {
      let env = clientEnv(gw!);
      const upload = JSON.parse(
        aws(env, "s3api", "create-multipart-upload", "--bucket", "vol-crash", "--key", "obj.bin").stdout,
      ) as { UploadId: string };
      const parts: Array<{ PartNumber: number; ETag: string }> = [];
      const data: Buffer[] = [];
      for (let n = 1; n <= 3; n++) {
        const part = pattern(40 * MiB, 10 + n);
        data.push(part);
        writeFileSync(join(work, "part.bin"), part);
        const out = JSON.parse(
          aws(
            env,
            "s3api",
            "upload-part",
            "--bucket",
            "vol-crash",
            "--key",
            "obj.bin",
            "--upload-id",
            upload.UploadId,
            "--part-number",
            String(n),
            "--body",
            join(work, "part.bin"),
          ).stdout,
        ) as { ETag: string };
        parts.push({ PartNumber: n, ETag: out.ETag });
      }
      rmSync(join(work, "part.bin"));
      const before = sha(readFileSync(join(root, "vol-crash", "obj.bin")));
      const spec = join(work, "parts.json");
      writeFileSync(spec, JSON.stringify({ Parts: parts }));
      const complete = [
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        "vol-crash",
        "--key",
        "obj.bin",
        "--upload-id",
        upload.UploadId,
        "--multipart-upload",
        `file://${spec}`,
      ];
      const killed = await killWhile(complete, env, () => temporaries().length > 0);
      expect(killed).toBe(true);
      const after = sha(readFileSync(join(root, "vol-crash", "obj.bin")));
      const whole = sha(Buffer.concat(data));
      expect([before, whole]).toContain(after);

      gw = await startGateway(root, [], workers);
      env = clientEnv(gw);
      expect(temporaries()).toEqual([]);
      // The client retries Complete: it succeeds (again), with the multipart ETag.
      const retried = aws(env, ...complete);
      expect(retried.code).toBe(0);
      expect(JSON.parse(retried.stdout).ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
      expect(sha(readFileSync(join(root, "vol-crash", "obj.bin")))).toBe(whole);
      expect(readdirSync(join(root, "vol-crash", ".s3compat_uploads")).sort()).toEqual(["tmp"]);
      expect(temporaries()).toEqual([]);
    });
  });
});
