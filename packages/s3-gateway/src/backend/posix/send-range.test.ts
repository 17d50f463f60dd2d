import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenFile } from "./open-file.js";
import { sendRange } from "./send-range.js";

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), "podkit-send-range-"));
const content = randomBytes(5 * MiB + 12345);
const path = join(dir, "object");

/** A server that sends `path`'s [start, end] from the query, and reports how each send ended. */
let server: Server;
let base: string;
const outcomes: Array<Promise<string>> = [];

beforeAll(async () => {
  writeFileSync(path, content);
  server = createServer((req, res) => {
    const q = new URL(req.url!, "http://x").searchParams;
    const start = Number(q.get("start"));
    const end = Number(q.get("end"));
    res.writeHead(200, { "content-length": String(end - start + 1) });
    outcomes.push(
      (async () => {
        const file = await OpenFile.open(q.get("path") ?? path, "r");
        try {
          if (q.get("shrink")) truncateSync(q.get("path")!, Number(q.get("shrink")));
          await sendRange(file, start, end, res);
          return "sent";
        } catch (err) {
          res.destroy();
          return `failed: ${(err as Error).message}`;
        } finally {
          await file.close();
        }
      })(),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function fetchBytes(query: string, slowMs = 0): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    get(`${base}/?${query}`, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        if (slowMs) {
          res.pause();
          setTimeout(() => res.resume(), slowMs);
        }
      });
      res.on("end", () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
      res.on("error", () => resolve({ body: Buffer.concat(chunks), complete: false }));
    }).on("error", reject);
  });
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

describe("sendRange", () => {
  it("sends exactly the asked bytes for ranges inside, across and at the ends of its 1 MiB buffers", async () => {
    const ranges: Array<[number, number]> = [
      [0, content.length - 1],
      [1, 3 * MiB],
      [MiB - 1, MiB],
      [content.length - 10, content.length - 1],
      [7, 7],
      [2 * MiB, 4 * MiB - 1],
    ];
    // Concurrent and with slow readers, so pooled buffers are handed from one send to another.
    const got = await Promise.all(
      ranges.map(([s, e], i) => fetchBytes(`start=${s}&end=${e}`, i % 2 ? 2 : 0)),
    );
    for (const [i, [s, e]] of ranges.entries()) {
      expect(got[i]!.complete).toBe(true);
      expect(md5(got[i]!.body)).toBe(md5(content.subarray(s, e + 1)));
    }
    expect(await Promise.all(outcomes.splice(0))).toEqual(ranges.map(() => "sent"));
  });

  it("fails the send, and the client sees a short body, when the file shrinks during it", async () => {
    const shrinking = join(dir, "shrinking");
    writeFileSync(shrinking, content);
    const got = await fetchBytes(
      `path=${encodeURIComponent(shrinking)}&start=0&end=${content.length - 1}&shrink=${2 * MiB}`,
    );
    expect(got.complete).toBe(false);
    expect(got.body.length).toBeLessThan(content.length);
    expect(await outcomes.splice(0)[0]).toBe("failed: The object became shorter while it was being sent.");
  });

  it("returns at once with an error when the client goes away mid-send", async () => {
    await new Promise<void>((resolve, reject) => {
      const req = get(`${base}/?start=0&end=${content.length - 1}`, (res) => {
        res.once("data", () => {
          // Stop reading and hang up after the first bytes.
          res.pause();
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.on("close", resolve);
      setTimeout(() => reject(new Error("no data")), 5000);
    });
    const outcome = await outcomes.splice(0)[0];
    expect(outcome).toMatch(/^failed: /);
  });
});
