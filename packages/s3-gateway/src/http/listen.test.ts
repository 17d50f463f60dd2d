import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_CODES, PodkitError } from "@podkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { startS3Cluster } from "./cluster.js";
import { startS3Gateway } from "./server.js";

const root = mkdtempSync(join(tmpdir(), "s3-listen-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const credentials = [{ accessKeyId: "AKLISTEN", secretAccessKey: "listen-secret", volumes: ["*"] }];

describe("listening addresses", () => {
  it.each([
    ["localhost", '--listen "localhost" is not host:port'],
    ["127.0.0.1:70000", "port 70000 is out of range"],
  ])("refuses %s as a catalogued usage error (exit 2), not an S3 error", async (listen, message) => {
    for (const start of [
      () => startS3Gateway({ root, listen, credentials }),
      () => startS3Cluster({ root, listen, credentials, workers: 2 }),
    ]) {
      const started = start();
      await expect(started).rejects.toBeInstanceOf(PodkitError);
      await expect(started).rejects.toMatchObject({
        code: "E_CONFIG",
        exitCode: EXIT_CODES.usage,
        message: expect.stringContaining(message),
      });
    }
  });

  it("says which address is taken with E_LISTEN (exit 7)", async () => {
    const first = await startS3Gateway({ root, listen: "127.0.0.1:0", credentials });
    try {
      const taken = first.endpoint.replace("http://", "");
      const second = startS3Gateway({ root, listen: taken, credentials });
      await expect(second).rejects.toBeInstanceOf(PodkitError);
      await expect(second).rejects.toMatchObject({
        code: "E_LISTEN",
        exitCode: EXIT_CODES.unavailable,
        message: expect.stringContaining(`cannot listen on ${taken}`),
      });
    } finally {
      await first.close();
    }
  });
});
