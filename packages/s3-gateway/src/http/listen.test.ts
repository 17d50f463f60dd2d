import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_CODES, PodkitError } from "@podkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { parseListen, startS3Gateway } from "./server.js";

const root = mkdtempSync(join(tmpdir(), "s3-listen-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const credentials = [{ accessKeyId: "AKLISTEN", secretAccessKey: "listen-secret", volumes: ["*"] }];

describe("listening addresses", () => {
  it("reads host:port, [v6]:port and :port", () => {
    expect(parseListen("0.0.0.0:9000")).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen(":9001")).toEqual({ host: "127.0.0.1", port: 9001 });
  });

  it.each([
    ["localhost", '"localhost" is not host:port'],
    ["127.0.0.1:70000", "port 70000 is out of range"],
  ])("refuses %s as a usage error (exit 2), not an S3 error", (value, message) => {
    let caught: unknown;
    try {
      parseListen(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PodkitError);
    expect(caught).toMatchObject({ code: "E_USAGE", message, exitCode: EXIT_CODES.usage });
  });

  it("says which address is taken with E_LISTEN", async () => {
    const first = await startS3Gateway({ root, listen: "127.0.0.1:0", credentials });
    try {
      const taken = first.endpoint.replace("http://", "");
      const second = startS3Gateway({ root, listen: taken, credentials });
      await expect(second).rejects.toBeInstanceOf(PodkitError);
      await expect(second).rejects.toMatchObject({
        code: "E_LISTEN",
        message: expect.stringContaining(`cannot listen on ${taken}`),
      });
    } finally {
      await first.close();
    }
  });
});
