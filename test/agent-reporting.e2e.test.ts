import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AgentMessage } from "@podkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { startFakeControlPlane } from "./agent/fake-control-plane.js";
import {
  type AgentProcess,
  FakeKernelLog,
  freePort,
  podkit,
  scrapeValue,
  startAgentProcess,
  TESTDATA,
  tempDir,
  waitFor,
} from "./agent/helpers.js";

const outboxIds = (stateDir: string) =>
  readdirSync(join(stateDir, "outbox"))
    .map((f) => /^\d+-\d+-(.+)\.json$/.exec(f)?.[1])
    .filter((id): id is string => id !== undefined);

describe("agent ↔ control plane: nothing lost, nothing stored twice", () => {
  const dir = tempDir("agent-report");
  const stateDir = join(dir, "state");
  const storeFile = join(dir, "control-plane-store.jsonl");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  const xidLines = readFileSync(join(TESTDATA, "gpud__xid-readme__xid13-31-109.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes("NVRM: Xid"));
  const tokens = { enrollmentToken: "pke_enrol-test-123", hostToken: "pkh_host-test-456" };
  const windows = [
    {
      id: "mw-1",
      hostId: "host-1",
      start: "2099-01-01T00:00:00Z",
      end: "2099-01-01T04:00:00Z",
      immediate: false,
      status: "scheduled" as const,
    },
  ];
  const running: Array<{ close: () => Promise<void> } | AgentProcess> = [];
  afterAll(async () => {
    for (const r of running) {
      if ("kill9" in r) {
        if (r.proc.exitCode === null) await r.kill9();
      } else await r.close().catch(() => undefined);
    }
  });

  it("control plane down, agent killed -9 twice, both restarted: every report arrives exactly once", async () => {
    const port = await freePort();
    let cp = await startFakeControlPlane({ port, storeFile, ...tokens, windows });
    running.push(cp);
    const start = async () => {
      const a = await startAgentProcess(
        [
          "--simulate",
          "h100-8x",
          "--control-plane",
          cp.url,
          "--token",
          tokens.enrollmentToken,
          "--state-dir",
          stateDir,
          "--metrics-listen",
          "127.0.0.1:0",
          "--kmsg",
          kmsg.path,
        ],
        {
          PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.3",
          PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_HEARTBEAT_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_RECONNECT_MAX_SECONDS: "1",
        },
      );
      running.push(a);
      return a;
    };
    let agent = await start();

    // Enrolled once, token kept private; registration, telemetry, health and host-state flow.
    const creds = join(stateDir, "credentials.json");
    expect(statSync(creds).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(creds, "utf8"))).toMatchObject({
      hostId: "host-1",
      hostToken: tokens.hostToken,
    });
    expect(agent.logs()).not.toContain(tokens.hostToken);
    await waitFor(
      "telemetry and health stored",
      () =>
        [...cp.stored.values()].some((m) => m.type === "telemetry") &&
        [...cp.stored.values()].some((m) => m.type === "health"),
    );
    const stored = [...cp.stored.values()];
    const telemetry = stored.find((m) => m.type === "telemetry") as Extract<
      AgentMessage,
      { type: "telemetry" }
    >;
    expect(telemetry.payload.gpus).toHaveLength(8);
    const status = await waitFor("host-state in status", () => {
      const r = podkit(["agent", "status", "--state-dir", stateDir, "--json"]);
      const s = JSON.parse(r.stdout);
      return s.listing?.state === "listed" && s.controlPlane?.connected ? s : null;
    });
    expect(status.maintenanceWindows[0].id).toBe("mw-1");
    expect(status.rented).toBe(true);
    expect(podkit(["agent", "status", "--state-dir", stateDir]).stdout).toMatch(
      /Control plane: http:\/\/127\.0\.0\.1:\d+ connected/,
    );
    expect(
      scrapeValue(await (await fetch(agent.metricsUrl)).text(), "podkit_agent_control_plane_connected"),
    ).toBe(1);

    kmsg.append(...xidLines.slice(0, 3));
    await waitFor(
      "first XID events stored",
      () => [...cp.stored.values()].filter((m) => m.type === "event").length >= 3,
    );

    // The control plane goes away; reports pile up on disk.
    await cp.close();
    kmsg.append(...xidLines.slice(3));
    await waitFor("outbox growing while disconnected", () => outboxIds(stateDir).length >= 10);
    expect(
      scrapeValue(await (await fetch(agent.metricsUrl)).text(), "podkit_agent_control_plane_connected"),
    ).toBe(0);

    // kill -9, restart (control plane still down), more reports, kill -9 again.
    await agent.kill9();
    const waiting = new Set(outboxIds(stateDir));
    agent = await start();
    await waitFor("new reports after restart", () => outboxIds(stateDir).some((id) => !waiting.has(id)));
    await agent.kill9();
    for (const id of outboxIds(stateDir)) waiting.add(id);
    expect(waiting.size).toBeGreaterThan(10);

    // Both come back.
    cp = await startFakeControlPlane({ port, storeFile, ...tokens, windows });
    running.push(cp);
    agent = await start();
    await waitFor("every waiting report stored", () => [...waiting].every((id) => cp.stored.has(id)), 30_000);
    await waitFor("outbox drained", () => outboxIds(stateDir).length === 0, 30_000);

    // Each kernel-log record is one fact with one id, although the agent re-read the log after every restart.
    const events = [...cp.stored.values()].filter(
      (m): m is Extract<AgentMessage, { type: "event" }> => m.type === "event",
    );
    const xidRaws = events.flatMap((e) => (e.payload.kind === "xid" ? [e.payload.xid.raw] : []));
    expect(xidRaws.sort()).toEqual([...xidLines].map((l) => l.trim()).sort());
    // The store file holds each id once (the control plane acks duplicates without storing them).
    const lines = readFileSync(storeFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as AgentMessage).id);
    expect(new Set(lines).size).toBe(lines.length);
    expect(readdirSync(join(stateDir, "outbox")).includes("rejected")).toBe(false);
    expect(await agent.stop()).toBe(0);
  });

  it("refuses a wrong host token at the upgrade and says what to do", async () => {
    const port = await freePort();
    const cp = await startFakeControlPlane({ port, storeFile: join(dir, "other.jsonl"), ...tokens });
    running.push(cp);
    const agent = await startAgentProcess(
      [
        "--simulate",
        "h100-8x",
        "--control-plane",
        cp.url,
        "--token",
        "pkh_wrong",
        "--state-dir",
        join(dir, "state-wrong"),
        "--metrics-listen",
        "127.0.0.1:0",
        "--kmsg",
        "/dev/null",
      ],
      { PODKIT_AGENT_RECONNECT_MAX_SECONDS: "1" },
    );
    running.push(agent);
    await waitFor("401 explained", () => /refused the host token \(HTTP 401\)/.test(agent.logs()));
    expect(agent.logs()).not.toContain("pkh_wrong");
    expect(cp.stored.size).toBe(0);
    expect(await agent.stop()).toBe(0);
  });
});
