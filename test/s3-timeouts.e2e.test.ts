import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boto3, clientEnv, type RunningGateway, startGateway, WORKER_COUNTS } from "./s3/gateway.js";

describe.each(WORKER_COUNTS)("podkit s3 serve --workers %i", (workers) => {
  // `podkit s3 serve` with short timeouts, against connections that stall the way slowloris
  // clients, crashed clients and forgotten keep-alive sockets do.
  let root: string;
  let gw: RunningGateway;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "podkit-s3-timeouts-"));
    mkdirSync(join(root, "vol-t"));
    gw = await startGateway(
      root,
      ["--header-timeout", "1", "--idle-timeout", "1.5", "--keep-alive-timeout", "1"],
      workers,
    );
    env = clientEnv(gw);
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  function open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(gw.port, "127.0.0.1", () => resolve(socket));
      socket.on("error", reject);
    });
  }

  /** Milliseconds until the gateway closes the socket (fails after `limitMs`). */
  function closedWithin(socket: Socket, limitMs: number): Promise<number> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${limitMs} ms`)), limitMs);
      socket.on("error", () => undefined);
      socket.resume(); // read (and discard) whatever the gateway answers before closing
      socket.once("close", () => {
        clearTimeout(timer);
        resolve(Date.now() - started);
      });
    });
  }

  /** A presigned PUT URL from boto3 (SigV4, no signed body). */
  function presignedPut(key: string): URL {
    const r = boto3(
      env,
      `import boto3, os
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], config=Config(signature_version="s3v4"))
print(s3.generate_presigned_url("put_object", Params={"Bucket": "vol-t", "Key": "${key}"}, ExpiresIn=300))`,
    );
    if (r.code !== 0) throw new Error(r.stderr);
    return new URL(r.stdout.trim());
  }

  const tmpDir = () => join(root, "vol-t", ".s3compat_uploads", "tmp");
  const temporaries = () => (existsSync(tmpDir()) ? readdirSync(tmpDir()) : []);

  /** Start a 4 MiB presigned PUT, send 64 KiB of it, and stall. */
  async function stalledPut(key: string): Promise<Socket> {
    const url = presignedPut(key);
    const socket = await open();
    socket.write(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: ${4 << 20}\r\n\r\n`,
    );
    socket.write(randomBytes(64 * 1024));
    // The temporary exists once the gateway has begun writing the body.
    for (let i = 0; i < 100 && temporaries().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    return socket;
  }

  /** The access-log lines (JSON) for one key. */
  function logLinesFor(key: string): Array<Record<string, unknown>> {
    return gw
      .log()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.key === key || (l.msg === "s3 request failed" && l.key === key));
  }

  describe("podkit s3 serve against stalled connections", () => {
    it("drops a connection that sends half a request header (--header-timeout)", async () => {
      const socket = await open();
      socket.write("GET /vol-t/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      const ms = await closedWithin(socket, 15_000);
      expect(ms).toBeGreaterThanOrEqual(900);
    });

    it("drops a connection that sends nothing at all", async () => {
      const socket = await open();
      await closedWithin(socket, 15_000);
    });

    it("drops an upload whose body stops (--idle-timeout), removes its temporary at once and logs an abort", async () => {
      const socket = await stalledPut("stalled/a.bin");
      expect(temporaries().length).toBe(1);
      const ms = await closedWithin(socket, 15_000);
      expect(ms).toBeGreaterThanOrEqual(1000);
      for (let i = 0; i < 25 && temporaries().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(temporaries()).toEqual([]);
      expect(existsSync(join(root, "vol-t", "stalled"))).toBe(false);
      for (let i = 0; i < 50 && logLinesFor("stalled/a.bin").length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      const lines = logLinesFor("stalled/a.bin");
      expect(lines).toEqual([
        expect.objectContaining({ msg: "s3 request aborted", status: 499, aborted: "idle timeout" }),
      ]);
    });

    it("logs a client that hangs up mid-upload as an abort, not a 500, and keeps nothing", async () => {
      const socket = await stalledPut("hangup/b.bin");
      socket.destroy();
      for (let i = 0; i < 100 && logLinesFor("hangup/b.bin").length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(logLinesFor("hangup/b.bin")).toEqual([
        expect.objectContaining({
          msg: "s3 request aborted",
          status: 499,
          aborted: "client closed the connection",
        }),
      ]);
      expect(temporaries()).toEqual([]);
      expect(gw.log()).not.toContain('"status":500');
    });

    it("closes an idle keep-alive connection (--keep-alive-timeout)", async () => {
      const socket = await open();
      let answer = "";
      socket.on("data", (c) => {
        answer += c;
      });
      socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const ms = await closedWithin(socket, 15_000);
      expect(answer).toMatch(/^HTTP\/1\.1 403/);
      expect(answer.toLowerCase()).toContain("keep-alive");
      expect(ms).toBeGreaterThanOrEqual(900);
    });
  });
});
