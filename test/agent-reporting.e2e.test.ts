import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { startEphemeralPostgres } from "@podkit/control-plane/testing";
import { afterAll, describe, expect, it } from "vitest";
import { startControlPlaneProcess } from "./agent/control-plane-process.js";
import {
  type AgentProcess,
  enrolledAgentArgs,
  FAKE_SMI,
  FakeKernelLog,
  freePort,
  H100_CAPTURE,
  podkit,
  scrapeValue,
  startAgentProcess,
  TESTDATA,
  tempDir,
  waitFor,
} from "./agent/helpers.js";
import { TcpProxy } from "./control-plane/faults.js";

// Read the control plane's SQLite store directly (read-only) to count what it stored per message id.
const requireFromControlPlane = createRequire(new URL("../apps/control-plane/package.json", import.meta.url));
const Database = requireFromControlPlane("better-sqlite3") as new (
  file: string,
  options: { readonly: boolean },
) => {
  prepare(sql: string): { all(...args: unknown[]): Array<Record<string, unknown>> };
  close(): void;
};

const outboxIds = (stateDir: string) =>
  readdirSync(join(stateDir, "outbox"))
    .map((f) => /^\d+-\d+-(.+)\.json$/.exec(f)?.[1])
    .filter((id): id is string => id !== undefined);

describe("agent ↔ the real control plane: nothing lost, nothing stored twice", () => {
  const dir = tempDir("agent-report");
  const stateDir = join(dir, "state");
  const cpData = join(dir, "control-plane");
  const adminToken = "pka_agent-e2e-admin-token-0001";
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  const xidLines = readFileSync(join(TESTDATA, "gpud__xid-readme__xid13-31-109.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes("NVRM: Xid"));
  const running: Array<{ proc: { exitCode: number | null }; kill9: () => Promise<void> }> = [];
  afterAll(async () => {
    for (const r of running) if (r.proc.exitCode === null) await r.kill9();
  });
  /** A control-plane process in its own data directory, and a fresh enrolment token for it. */
  const controlPlaneAndToken = async (name: string, options: { db?: string; args?: string[] } = {}) => {
    const cp = await startControlPlaneProcess({
      port: await freePort(),
      dataDir: join(dir, name),
      adminToken,
      ...options,
    });
    running.push(cp);
    const { token } = await cp.api<{ token: string }>("/api/v1/enrollment-tokens", {
      method: "POST",
      body: "{}",
    });
    return { cp, token };
  };

  it("control plane killed, agent killed -9 twice, both restarted: every report arrives exactly once", async () => {
    const port = await freePort();
    let cp = await startControlPlaneProcess({ port, dataDir: cpData, adminToken });
    running.push(cp);
    const { token } = await cp.api<{ token: string }>("/api/v1/enrollment-tokens", {
      method: "POST",
      body: "{}",
    });
    expect(token).toMatch(/^pke_/);
    const start = async () => {
      const a = await startAgentProcess(
        enrolledAgentArgs({ controlPlane: cp.url, token, stateDir, kmsgPath: kmsg.path }),
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
    let agent: AgentProcess = await start();

    // Enrolled once with the one-time token; the host token is kept private and never logged.
    const creds = JSON.parse(readFileSync(join(stateDir, "credentials.json"), "utf8")) as {
      hostId: string;
      hostToken: string;
    };
    expect(statSync(join(stateDir, "credentials.json")).mode & 0o777).toBe(0o600);
    expect(creds.hostToken).toMatch(/^pkh_/);
    expect(agent.logs()).not.toContain(creds.hostToken);
    const host = await waitFor("host registered with 8 simulated H100s and healthy", async () => {
      const h = await cp.api<{ gpus?: unknown[]; health?: { state: string } | string | null }>(
        `/api/v1/hosts/${creds.hostId}`,
      );
      return (h.gpus?.length ?? 0) === 8 ? h : null;
    });
    expect(JSON.stringify(host)).toContain("NVIDIA H100 80GB HBM3");
    const status = await waitFor("host-state in agent status", () => {
      const s = JSON.parse(podkit(["agent", "status", "--state-dir", stateDir, "--json"]).stdout);
      return s.listing && s.controlPlane?.connected ? s : null;
    });
    expect(status.hostId).toBe(creds.hostId);
    expect(podkit(["agent", "status", "--state-dir", stateDir]).stdout).toMatch(
      /Control plane: http:\/\/127\.0\.0\.1:\d+ connected/,
    );

    kmsg.append(...xidLines.slice(0, 3));
    await waitFor(
      "first XID events stored",
      async () => (await cp.api<unknown[]>(`/api/v1/events?host=${creds.hostId}&kind=xid`)).length >= 3,
    );

    // The control plane dies; reports pile up in the agent's outbox.
    await cp.kill9();
    kmsg.append(...xidLines.slice(3));
    await waitFor("outbox growing while disconnected", () => outboxIds(stateDir).length >= 10);
    await waitFor(
      "disconnection visible in metrics",
      async () =>
        scrapeValue(await (await fetch(agent.metricsUrl)).text(), "podkit_agent_control_plane_connected") ===
        0,
    );

    // kill -9 the agent, restart it (control plane still down), more reports, kill -9 again.
    await agent.kill9();
    const waiting = new Set(outboxIds(stateDir));
    agent = await start();
    await waitFor("new reports after the restart", () => outboxIds(stateDir).some((id) => !waiting.has(id)));
    await agent.kill9();
    for (const id of outboxIds(stateDir)) waiting.add(id);
    expect(waiting.size).toBeGreaterThan(10);

    // Both come back.
    cp = await startControlPlaneProcess({ port, dataDir: cpData, adminToken });
    running.push(cp);
    agent = await start();
    await waitFor("outbox drained", () => outboxIds(stateDir).length === 0, 60_000);

    const db = new Database(join(cpData, "control-plane.sqlite"), { readonly: true });
    try {
      const rows = db
        .prepare("SELECT id FROM messages WHERE host_id = ?")
        .all(creds.hostId)
        .map((r) => String(r.id));
      const stored = new Set(rows);
      expect(stored.size).toBe(rows.length);
      const missing = [...waiting].filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
    } finally {
      db.close();
    }
    // Each kernel-log record is one fact, although the agent re-read the log after every restart.
    const events = await cp.api<Array<{ data: { xid: { raw: string } } }>>(
      `/api/v1/events?host=${creds.hostId}&kind=xid&limit=1000`,
    );
    expect(events.map((e) => e.data.xid.raw).sort()).toEqual(xidLines.map((l) => l.trim()).sort());
    expect(await agent.stop()).toBe(0);
    await cp.stop();
  });

  it("explains a refused host token and keeps it out of the log", async () => {
    const port = await freePort();
    const cp = await startControlPlaneProcess({ port, dataDir: join(dir, "cp-2"), adminToken });
    running.push(cp);
    const agent = await startAgentProcess(
      [
        "--simulate",
        "h100-8x",
        "--control-plane",
        cp.url,
        "--token",
        "pkh_not-a-real-token",
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
    expect(agent.logs()).not.toContain("pkh_not-a-real-token");
    expect(await agent.stop()).toBe(0);
    await cp.stop();
  });

  it("keeps what PostgreSQL could not store while it was down, and stores it exactly once when it is back", async () => {
    const pg = await startEphemeralPostgres({ fsync: false });
    const stateDir2 = join(dir, "state-pg");
    const kmsg2 = new FakeKernelLog(join(dir, "kmsg-pg.log"));
    try {
      const { cp, token } = await controlPlaneAndToken("cp-pg", { db: pg.url });
      const agent = await startAgentProcess(
        enrolledAgentArgs({ controlPlane: cp.url, token, stateDir: stateDir2, kmsgPath: kmsg2.path }),
        {
          PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.3",
          PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_HEARTBEAT_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_RECONNECT_MAX_SECONDS: "1",
        },
      );
      running.push(agent);
      const { hostId } = JSON.parse(readFileSync(join(stateDir2, "credentials.json"), "utf8")) as {
        hostId: string;
      };
      await waitFor("host registered", async () => {
        const h = await cp.api<{ gpus?: unknown[] }>(`/api/v1/hosts/${hostId}`);
        return (h.gpus?.length ?? 0) === 8;
      });

      await pg.stop("fast");
      kmsg2.append(xidLines[0]!);
      // The control plane answers "retry later"; the agent keeps the XID and the reports of the outage.
      await waitFor("reports queued during the outage", () => outboxIds(stateDir2).length >= 5);
      await new Promise((r) => setTimeout(r, 3000));
      const rejectedDir = join(stateDir2, "outbox", "rejected");
      const rejected = (() => {
        try {
          return readdirSync(rejectedDir);
        } catch {
          return [];
        }
      })();
      expect(rejected).toEqual([]);
      expect(cp.proc.exitCode).toBeNull();
      expect(agent.logs()).toMatch(/asked to send again later/);

      await pg.start();
      await waitFor(
        "outbox drained after PostgreSQL came back",
        () => outboxIds(stateDir2).length === 0,
        60_000,
      );
      const events = await cp.api<Array<{ data: { xid: { raw: string } } }>>(
        `/api/v1/events?host=${hostId}&kind=xid&limit=1000`,
      );
      expect(events.map((e) => e.data.xid.raw)).toEqual([xidLines[0]!.trim()]);
      expect(
        scrapeValue(await (await fetch(agent.metricsUrl)).text(), "podkit_agent_outbox_rejected_total"),
      ).toBe(0);
      expect(await agent.stop()).toBe(0);
      await cp.stop();
    } finally {
      await pg.close();
    }
  });

  it("follows the agent's GPU inventory: enrolled while the GPUs could not be read, then read", async () => {
    const { cp, token } = await controlPlaneAndToken("cp-inv");
    const modeFile = join(dir, "smi-mode");
    writeFileSync(modeFile, "mismatch");
    const stateDir3 = join(dir, "state-inv");
    const agent = await startAgentProcess(
      [
        "--nvidia-smi",
        FAKE_SMI,
        "--control-plane",
        cp.url,
        "--token",
        token,
        "--state-dir",
        stateDir3,
        "--metrics-listen",
        "127.0.0.1:0",
        "--kmsg",
        "/dev/null",
      ],
      {
        FAKE_SMI_CAPTURE: H100_CAPTURE,
        FAKE_SMI_MODE: modeFile,
        FAKE_SMI_MISMATCH: join(TESTDATA, "nvml-mismatch.txt"),
        PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
        PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.5",
        PODKIT_AGENT_HEARTBEAT_INTERVAL_SECONDS: "0.5",
        PODKIT_AGENT_COLLECTOR_TIMEOUT_SECONDS: "2",
      },
    );
    running.push(agent);
    const { hostId } = JSON.parse(readFileSync(join(stateDir3, "credentials.json"), "utf8")) as {
      hostId: string;
    };
    type Host = { gpus: unknown[]; gpusKnown: boolean; listingReasons: string[]; online: boolean };
    const unknown = await waitFor("host seen with its GPUs unknown", async () => {
      const h = await cp.api<Host>(`/api/v1/hosts/${hostId}`);
      return h.online ? h : null;
    });
    expect(unknown.gpusKnown).toBe(false);
    expect(unknown.gpus).toEqual([]);
    expect(unknown.listingReasons).toContain("GPUS_UNKNOWN");
    const cli = { PODKIT_CONTROL_PLANE: cp.url, PODKIT_ADMIN_TOKEN: adminToken };
    const table = podkit(["hosts", "list"], cli).stdout;
    expect(table.split("\n").find((l) => l.startsWith(hostId))).toMatch(/ unknown /);

    // The driver is fixed: the agent reads its GPU and the control plane follows, with no restart of either.
    writeFileSync(modeFile, "healthy");
    const known = await waitFor(
      "the GPUs registered",
      async () => {
        const h = await cp.api<Host>(`/api/v1/hosts/${hostId}`);
        return h.gpus.length > 0 ? h : null;
      },
      30_000,
    );
    // The recorded capture has one H100.
    expect(known.gpus).toHaveLength(1);
    expect(known.gpusKnown).toBe(true);
    expect(known.listingReasons).not.toContain("GPUS_UNKNOWN");
    expect(podkit(["hosts", "list"], cli).stdout).toMatch(/1x NVIDIA H100 80GB HBM3/);
    expect(await agent.stop()).toBe(0);
    await cp.stop();
  });

  it("notices a link that silently stopped forwarding, on both sides, and delivers through a new one", async () => {
    const { cp, token } = await controlPlaneAndToken("cp-link", { args: ["--ping-interval", "1s"] });
    const proxy = await TcpProxy.start(Number(new URL(cp.url).port));
    try {
      const stateDir4 = join(dir, "state-link");
      const kmsg4 = new FakeKernelLog(join(dir, "kmsg-link.log"));
      const agent = await startAgentProcess(
        enrolledAgentArgs({
          controlPlane: `http://127.0.0.1:${proxy.port}`,
          token,
          stateDir: stateDir4,
          kmsgPath: kmsg4.path,
        }),
        {
          PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_HEARTBEAT_INTERVAL_SECONDS: "0.5",
          PODKIT_AGENT_PING_INTERVAL_SECONDS: "1",
          PODKIT_AGENT_RECONNECT_MAX_SECONDS: "1",
        },
      );
      running.push(agent);
      const { hostId } = JSON.parse(readFileSync(join(stateDir4, "credentials.json"), "utf8")) as {
        hostId: string;
      };
      type Host = { link: { state: string; since: string } | null; online: boolean };
      await waitFor("link connected", async () => {
        const h = await cp.api<Host>(`/api/v1/hosts/${hostId}`);
        return h.link?.state === "connected" && h.online;
      });

      // The link dies without a FIN or RST (a NAT timeout): bytes vanish, both ends still look open.
      expect(proxy.stall()).toBeGreaterThanOrEqual(1);
      const stalledAt = Date.now();
      kmsg4.append(xidLines[0]!);
      await waitFor(
        "the control plane dropped the dead socket",
        () => /agent link dead/.test(cp.logs()),
        15_000,
      );
      await waitFor(
        "the agent noticed and reconnected",
        () => /control plane link dead/.test(agent.logs()),
        15_000,
      );
      const events = await waitFor(
        "the XID delivered through a new connection",
        async () => {
          const e = await cp.api<Array<{ data: { xid: { raw: string } } }>>(
            `/api/v1/events?host=${hostId}&kind=xid&limit=100`,
          );
          return e.length > 0 ? e : null;
        },
        20_000,
      );
      // Seconds, not the many minutes TCP would take to give up on the dead link.
      expect(Date.now() - stalledAt).toBeLessThan(20_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await cp.api<unknown[]>(`/api/v1/events?host=${hostId}&kind=xid&limit=100`)).length).toBe(1);
      expect(events.map((e) => e.data.xid.raw)).toEqual([xidLines[0]!.trim()]);
      const host = await cp.api<Host>(`/api/v1/hosts/${hostId}`);
      expect(host.link?.state).toBe("connected");
      expect(await agent.stop()).toBe(0);
      await cp.stop();
    } finally {
      await proxy.close();
    }
  });
});
