import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type MachineInfo } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { resolveHostToken } from "./enroll.js";

const logger = createLogger({ name: "test", level: "silent" });
const machineInfo: MachineInfo = {
  hostname: "h",
  cpuCount: 1,
  memoryTotalBytes: 1,
  driverVersion: null,
  cudaVersion: null,
  gpus: [],
  simulated: true,
};

describe("host credentials", () => {
  it("trades an enrolment token once, stores the host token with mode 0600, and reuses it", async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      calls++;
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const ok = req.url === "/api/v1/agents/enroll" && JSON.parse(body).enrollmentToken === "pke_good";
        res
          .writeHead(ok ? 201 : 401, { "content-type": "application/json" })
          .end(ok ? '{"hostId":"h-1","hostToken":"pkh_secret"}' : "{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const stateDir = mkdtempSync(join(tmpdir(), "podkit-enroll-"));
    try {
      await expect(
        resolveHostToken({ controlPlane: url, token: "pke_bad", stateDir, machineInfo, logger }),
      ).rejects.toThrow(/enrolment token was refused/);
      const creds = await resolveHostToken({
        controlPlane: url,
        token: "pke_good",
        stateDir,
        machineInfo,
        logger,
      });
      expect(creds).toEqual({ hostId: "h-1", hostToken: "pkh_secret", controlPlane: url });
      expect(statSync(join(stateDir, "credentials.json")).mode & 0o777).toBe(0o600);
      // Restart with the same (now used) enrolment token: no second enrolment.
      expect(
        await resolveHostToken({ controlPlane: url, token: "pke_good", stateDir, machineInfo, logger }),
      ).toEqual(creds);
      expect(calls).toBe(2);
      // The control plane moved: the stored host token follows it.
      const moved = await resolveHostToken({
        controlPlane: "http://127.0.0.1:1",
        stateDir,
        machineInfo,
        logger,
      });
      expect(moved.hostToken).toBe("pkh_secret");
      expect(JSON.parse(readFileSync(join(stateDir, "credentials.json"), "utf8")).controlPlane).toBe(
        "http://127.0.0.1:1",
      );
    } finally {
      server.close();
    }
  });

  it("says how to enrol when there is neither a token nor stored credentials, and refuses other token kinds", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "podkit-enroll-"));
    await expect(
      resolveHostToken({ controlPlane: "http://127.0.0.1:1", stateDir, machineInfo, logger }),
    ).rejects.toThrow(/enrol with `podkit agent run --control-plane http:\/\/127\.0\.0\.1:1 --token pke_…`/);
    await expect(
      resolveHostToken({
        controlPlane: "http://127.0.0.1:1",
        token: "pka_admin",
        stateDir,
        machineInfo,
        logger,
      }),
    ).rejects.toThrow(/must be an enrolment token \(pke_…\) or a host token \(pkh_…\)/);
  });

  it("gives up with a clear error when the control plane stays unreachable (bounded attempts)", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "podkit-enroll-"));
    writeFileSync(join(stateDir, "unrelated"), "");
    await expect(
      resolveHostToken({
        controlPlane: "http://127.0.0.1:1",
        token: "pke_x",
        stateDir,
        machineInfo,
        logger,
        attempts: 1,
      }),
    ).rejects.toThrow(/cannot reach the control plane at http:\/\/127\.0\.0\.1:1 to enrol/);
  });

  it("tries again after a server error (the token is still unspent) and stops at the attempt limit", async () => {
    const statuses = [500, 503, 201];
    let calls = 0;
    const server = createServer((_req, res) => {
      const status = statuses[Math.min(calls++, statuses.length - 1)]!;
      res
        .writeHead(status, { "content-type": "application/json" })
        .end(
          status === 201 ? '{"hostId":"h-2","hostToken":"pkh_after_retry"}' : '{"error":{"message":"boom"}}',
        );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const creds = await resolveHostToken({
        controlPlane: url,
        token: "pke_retry",
        stateDir: mkdtempSync(join(tmpdir(), "podkit-enroll-")),
        machineInfo,
        logger,
      });
      expect(creds.hostToken).toBe("pkh_after_retry");
      expect(calls).toBe(3);
      calls = 0;
      await expect(
        resolveHostToken({
          controlPlane: url,
          token: "pke_retry",
          stateDir: mkdtempSync(join(tmpdir(), "podkit-enroll-")),
          machineInfo,
          logger,
          attempts: 2,
        }),
      ).rejects.toThrow(/enrolment failed: HTTP 503 .*boom/);
      expect(calls).toBe(2);
    } finally {
      server.close();
    }
  });

  it("gives up on an answer that never comes (timeout per request) and refuses an answer without a host token", async () => {
    let mode: "hang" | "junk" = "hang";
    const server = createServer((req, res) => {
      req.resume();
      if (mode === "junk")
        res.writeHead(200, { "content-type": "text/html" }).end("<html>proxy login</html>");
      // "hang": never answer, like a black-holed proxy.
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const stateDir = mkdtempSync(join(tmpdir(), "podkit-enroll-"));
    const enrol = () =>
      resolveHostToken({
        controlPlane: url,
        token: "pke_t",
        stateDir,
        machineInfo,
        logger,
        attempts: 1,
        requestTimeoutMs: 300,
      });
    try {
      await expect(enrol()).rejects.toThrow(
        /cannot reach the control plane at .* to enrol: no answer within 0.3 s/,
      );
      mode = "junk";
      await expect(enrol()).rejects.toThrow(/answered HTTP 200 without a host id and host token/);
      expect(() => readFileSync(join(stateDir, "credentials.json"))).toThrow(/ENOENT/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
