import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { HostView } from "@podkit/control-plane";
import {
  type EphemeralPostgres,
  SimulatedAgent,
  startEphemeralPostgres,
} from "@podkit/control-plane/testing";
import type { MaintenanceWindow } from "@podkit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startControlPlaneProcess } from "./agent/control-plane-process.js";
import { freePort, PODKIT, tempDir } from "./agent/helpers.js";
import {
  api,
  apiHost,
  apiHosts,
  enrolledAgent,
  healthy,
  machine,
  podkit,
  scheduleWithCli,
  startTestControlPlane,
  type TestControlPlane,
  telemetry,
  until,
} from "./control-plane/harness.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function hostsJson(cp: TestControlPlane): Promise<HostView[]> {
  const r = await podkit(cp, "hosts", "list", "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as HostView[];
}

const hostOf = apiHost;

async function apiGet<T>(
  cp: TestControlPlane,
  path: string,
  token: string | null = cp.adminToken,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${cp.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as T };
}

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/api/v1/agent/ws`, { headers });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("error", reject);
  });
}

describe.each(["sqlite", "postgres"] as const)("control plane on %s", (backend) => {
  let pg: EphemeralPostgres | null = null;
  let cp: TestControlPlane;
  const agents: Record<
    string,
    { agent: SimulatedAgent; hostId: string; hostToken: string; info: ReturnType<typeof machine> }
  > = {};
  const beating = new Set<string>();
  let heartbeat: NodeJS.Timeout;

  beforeAll(async () => {
    if (backend === "postgres") pg = await startEphemeralPostgres({ fsync: false });
    cp = await startTestControlPlane(pg ? { postgresUrl: await pg.newDatabase("main_fleet") } : "sqlite", {
      offlineAfterMs: 1500,
    });
    const specs = [
      ["gpu-a", machine("gpu-a", 8)],
      ["gpu-b", machine("gpu-b", 4, "NVIDIA A100-SXM4-80GB")],
      ["gpu-c", machine("gpu-c", 2, "NVIDIA L40S")],
    ] as const;
    for (const [name, info] of specs) {
      agents[name] = { ...(await enrolledAgent(cp, info)), info };
      beating.add(name);
    }
    // Agents stay alive the way the real one does: a heartbeat well inside the offline limit.
    heartbeat = setInterval(() => {
      for (const name of beating)
        void agents[name]!.agent.send(agents[name]!.agent.envelope("heartbeat", {})).catch(() => {});
    }, 300);
  });

  afterAll(async () => {
    clearInterval(heartbeat);
    for (const a of Object.values(agents)) await a.agent.close();
    await cp?.stop();
    await pg?.close();
  });

  it("enrols several agents and shows what they reported in hosts list --json, the API and /metrics", async () => {
    for (const a of Object.values(agents)) {
      await a.agent.send(healthy(a.agent, a.info.gpus.length));
      await a.agent.send(telemetry(a.agent, a.info, 61, 0.87));
    }
    await cp.sweep();
    const hosts = await hostsJson(cp);
    expect(hosts.map((h) => h.id)).toEqual(["gpu-a", "gpu-b", "gpu-c"]);
    const a = hosts[0]!;
    expect(a).toMatchObject({
      id: "gpu-a",
      health: "healthy",
      listing: "listed",
      listingReasons: [],
      reliability: 1,
      online: true,
    });
    expect(a.gpus).toHaveLength(8);
    expect(a.gpus[3]).toMatchObject({
      index: 3,
      name: "NVIDIA H100 80GB HBM3",
      health: "healthy",
      temperatureCelsius: 64,
      utilizationRatio: 0.87,
    });
    expect(hosts[1]!.gpus.map((g) => g.name)).toEqual(Array(4).fill("NVIDIA A100-SXM4-80GB"));
    for (const x of Object.values(agents)) {
      const state = await x.agent.waitForState((s) => s.listing.state === "listed");
      expect(state).toMatchObject({ hostId: x.hostId, rented: false, maintenanceWindows: [] });
    }
    const table = await podkit(cp, "hosts", "list");
    expect(table.stdout).toMatch(/gpu-b\s+4x NVIDIA A100-SXM4-80GB\s+healthy\s+listed\s+100\.00%\s+online/);
    const show = await podkit(cp, "hosts", "show", "gpu-c");
    expect(show.stdout).toContain("reliability:  100.00% over 30 days");
    const metrics = await (
      await fetch(`${cp.url}/metrics`, { headers: { authorization: `Bearer ${cp.adminToken}` } })
    ).text();
    expect(metrics).toContain('podkit_fleet_hosts{listing="listed"} 3');
    expect(metrics).toContain('podkit_fleet_gpus{model="NVIDIA H100 80GB HBM3",health="healthy"} 8');
    expect(metrics).toContain("podkit_control_plane_agents_connected 3");
    // Fleet views keep parsed machine descriptions between requests: a changed one must show at once.
    const c = agents["gpu-c"]!;
    await c.agent.register(machine("gpu-c", 2, "NVIDIA H100 80GB HBM3"));
    const scrape = async () =>
      (await fetch(`${cp.url}/metrics`, { headers: { authorization: `Bearer ${cp.adminToken}` } })).text();
    expect(await scrape()).toContain('podkit_fleet_gpus{model="NVIDIA H100 80GB HBM3",health="healthy"} 10');
    expect((await hostOf(cp, "gpu-c")).gpus.map((g) => g.name)).toEqual(
      Array(2).fill("NVIDIA H100 80GB HBM3"),
    );
    await c.agent.register(c.info);
    expect(await scrape()).toContain('podkit_fleet_gpus{model="NVIDIA L40S",health="healthy"} 2');
    expect((await hostOf(cp, "gpu-c")).gpus.map((g) => g.name)).toEqual(Array(2).fill("NVIDIA L40S"));
  });

  it("acknowledges only after storing, and acknowledges but ignores duplicates", async () => {
    const { agent } = agents["gpu-a"]!;
    const notice = agent.envelope("event", { kind: "notice", message: "driver upgraded to 550.54.15" });
    await agent.send(notice);
    // Acked means stored: the event is there the moment the ack arrives.
    const first = await apiGet<Array<{ message: string }>>(cp, "/api/v1/events?host=gpu-a&kind=notice");
    expect(first.body.map((e) => e.message)).toEqual(["gpu-a: driver upgraded to 550.54.15"]);
    await agent.send(notice);
    await agent.send({ ...notice, sentAt: new Date().toISOString() });
    const again = await apiGet<unknown[]>(cp, "/api/v1/events?host=gpu-a&kind=notice");
    expect(again.body).toHaveLength(1);
  });

  it("rejects malformed messages with a reason and keeps every connection open", async () => {
    const a = agents["gpu-a"]!.agent;
    const before = a.nacks.length;
    a.sendRaw("{not json");
    a.sendRaw(
      JSON.stringify({
        v: 1,
        id: "bad-telemetry-1",
        type: "telemetry",
        sentAt: new Date().toISOString(),
        payload: { gpus: "many" },
      }),
    );
    a.sendRaw(
      JSON.stringify({
        v: 2,
        id: "future-version-1",
        type: "heartbeat",
        sentAt: new Date().toISOString(),
        payload: {},
      }),
    );
    await until("three nacks", async () => a.nacks.length >= before + 3);
    const nacks = a.nacks.slice(before);
    // Each can never be stored: `rejected` (the agent sets it aside), with a stable code.
    expect(nacks[0]).toEqual({
      id: null,
      kind: "rejected",
      code: "NOT_JSON",
      reason: "not JSON: every frame is one JSON message envelope",
    });
    expect(nacks[1]!.id).toBe("bad-telemetry-1");
    expect(nacks[1]!.kind).toBe("rejected");
    expect(nacks[1]!.code).toBe("INVALID_MESSAGE");
    expect(nacks[1]!.reason).toMatch(/^invalid agent message: payload\.host: .*; payload\.gpus: /);
    expect(nacks[2]).toEqual({
      id: "future-version-1",
      kind: "rejected",
      code: "UNSUPPORTED_VERSION",
      reason: "protocol version 2 not supported (this control plane speaks 1)",
    });
    expect(a.open).toBe(true);
    await a.send(a.envelope("heartbeat", {}));
    await agents["gpu-b"]!.agent.send(agents["gpu-b"]!.agent.envelope("heartbeat", {}));
    expect(agents["gpu-b"]!.agent.nacks).toEqual([]);
  });

  it("lets a host token speak only for its own host, and refuses the API without the admin token", async () => {
    const a = agents["gpu-a"]!;
    const b = agents["gpu-b"]!;
    expect(await upgradeStatus(cp.url, {})).toBe(401);
    expect(await upgradeStatus(cp.url, { authorization: "Bearer pkh_forged" })).toBe(401);
    expect(await upgradeStatus(cp.url, { authorization: `Bearer ${cp.adminToken}` })).toBe(401);
    // gpu-a registers with gpu-b's name and GPUs: it changes gpu-a's record only.
    await a.agent.register(b.info);
    const hosts = await apiHosts(cp);
    expect(hosts.find((h) => h.id === "gpu-b")!.gpus.map((g) => g.uuid)).toEqual(
      b.info.gpus.map((g) => g.uuid),
    );
    expect(hosts.find((h) => h.id === "gpu-a")!.hostname).toBe("gpu-b");
    await a.agent.register(a.info);

    const anonymous = await apiGet<{ error: { code: string; message: string } }>(cp, "/api/v1/hosts", null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.message).toContain("admin token required");
    expect((await apiGet(cp, "/api/v1/hosts", a.hostToken)).status).toBe(401);
    expect((await fetch(`${cp.url}/metrics`)).status).toBe(401);
    const wrong = await podkit({ url: cp.url, adminToken: "pka_wrong" }, "hosts", "list");
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain("wrong admin token: it is not this control plane's");
    // A used enrolment token cannot enrol a second host.
    const { token } = JSON.parse((await podkit(cp, "hosts", "enroll", "--json")).stdout) as { token: string };
    await SimulatedAgent.enroll(cp.url, token, machine("gpu-x", 1));
    await expect(SimulatedAgent.enroll(cp.url, token, machine("gpu-y", 1))).rejects.toThrow(
      /HTTP 401 enrolment token unknown, expired or already used/,
    );
  });

  it("enforces the maintenance rules through the CLI", async () => {
    const now = Date.now();
    const tooSoon = new Date(now + 6 * DAY + 23 * HOUR).toISOString();
    const refused = await podkit(
      cp,
      "maintenance",
      "schedule",
      "gpu-a",
      "--start",
      tooSoon,
      "--duration",
      "4h",
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /maintenance must be scheduled at least 7 d 0 h ahead \(this one starts in 6 d 2[23] h\)/,
    );
    const start = new Date(now + 7 * DAY + 2 * 60_000).toISOString();
    const window = await scheduleWithCli(
      cp,
      "gpu-a",
      "--start",
      start,
      "--duration",
      "4h",
      "--reason",
      "PSU swap",
    );
    expect(window).toMatchObject({
      hostId: "gpu-a",
      start,
      status: "scheduled",
      immediate: false,
      reason: "PSU swap",
    });
    expect(Date.parse(window.end) - Date.parse(window.start)).toBe(4 * HOUR);
    const listed = JSON.parse(
      (await podkit(cp, "maintenance", "list", "--json")).stdout,
    ) as MaintenanceWindow[];
    expect(listed.map((w) => w.id)).toContain(window.id);
    await agents["gpu-a"]!.agent.waitForState((s) => s.maintenanceWindows.some((w) => w.id === window.id));
    expect((await hostOf(cp, "gpu-a")).listing).toBe("listed");
    // Moving a window follows the same rules: too close is refused, a week out is fine.
    const patch = (body: unknown) =>
      fetch(`${cp.url}/api/v1/maintenance/${window.id}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const tooClose = await patch({ start: new Date(now + 3 * DAY).toISOString() });
    expect(tooClose.status).toBe(422);
    expect(((await tooClose.json()) as { error: { details: { rule: string } } }).error.details.rule).toBe(
      "MAINTENANCE_NOTICE_TOO_SHORT",
    );
    const later = new Date(now + 8 * DAY).toISOString();
    const moved = (await (await patch({ start: later, duration: "6h" })).json()) as MaintenanceWindow;
    expect(moved).toMatchObject({ id: window.id, start: later, status: "scheduled", reason: "PSU swap" });
    expect(Date.parse(moved.end) - Date.parse(moved.start)).toBe(6 * HOUR);

    expect((await podkit(cp, "hosts", "rent", "gpu-b", "--renter", "alice")).code).toBe(0);
    await agents["gpu-b"]!.agent.waitForState((s) => s.rented);
    const rented = await podkit(cp, "maintenance", "schedule", "gpu-b", "--immediate", "--duration", "1h");
    expect(rented.code).toBe(6);
    expect(rented.stderr).toContain("immediate maintenance is allowed only while the machine is unrented");

    const immediate = await scheduleWithCli(cp, "gpu-c", "--immediate", "--duration", "1h");
    expect(immediate.status).toBe("active");
    await agents["gpu-c"]!.agent.waitForState(
      (s) => s.listing.state === "unlisted" && s.listing.reasons.includes("IN_MAINTENANCE"),
    );
    expect(await hostOf(cp, "gpu-c")).toMatchObject({
      listing: "unlisted",
      listingReasons: ["IN_MAINTENANCE"],
    });
    expect((await podkit(cp, "maintenance", "cancel", immediate.id)).code).toBe(0);
    await agents["gpu-c"]!.agent.waitForState(
      (s) => s.listing.state === "listed" && s.maintenanceWindows.length === 0,
    );
    expect((await podkit(cp, "hosts", "free", "gpu-b")).code).toBe(0);
    // Nothing to free: a conflict with the host's state, as scripts expect of the rules' refusals.
    const unrented = await podkit(cp, "hosts", "free", "gpu-b");
    expect(unrented.code).toBe(6);
    expect(unrented.stderr).toContain("gpu-b is not rented: there is no rental to end");
    const missing = await podkit(
      cp,
      "maintenance",
      "schedule",
      "no-such-host",
      "--immediate",
      "--duration",
      "1h",
    );
    expect(missing.code).toBe(4);
  });

  it("unlists a host whose burn test fails or that loses a GPU, and relists it after a pass or a healthy report", async () => {
    const a = agents["gpu-a"]!;
    const b = agents["gpu-b"]!;
    await a.agent.send(a.agent.envelope("event", { kind: "burn-test", phase: "started" }));
    expect(await hostOf(cp, "gpu-a")).toMatchObject({
      listing: "unlisted",
      listingReasons: ["BURN_TEST_RUNNING"],
    });
    await a.agent.send(
      a.agent.envelope("event", { kind: "burn-test", phase: "failed", summary: "GPU 3: 12 errors" }),
    );
    await a.agent.waitForState((s) => s.listing.reasons.includes("BURN_TEST_FAILED"));
    expect(await hostOf(cp, "gpu-a")).toMatchObject({
      listing: "unlisted",
      listingReasons: ["BURN_TEST_FAILED"],
    });
    await a.agent.send(a.agent.envelope("event", { kind: "burn-test", phase: "passed" }));
    expect((await hostOf(cp, "gpu-a")).listing).toBe("listed");

    await b.agent.send(
      b.agent.envelope("event", {
        kind: "gpu-lost",
        pciBusId: "00000000:48:00.0",
        gpuIndex: 3,
        evidence: "GPU has fallen off the bus",
      }),
    );
    await b.agent.waitForState((s) => s.listing.reasons.includes("GPU_LOST"));
    const events = await apiGet<Array<{ kind: string; message: string }>>(
      cp,
      "/api/v1/events?host=gpu-b&kind=gpu-lost",
    );
    expect(events.body[0]!.message).toBe("gpu-b: GPU lost (GPU 3): GPU has fallen off the bus");
    await b.agent.send(healthy(b.agent, 4));
    await b.agent.waitForState((s) => s.listing.state === "listed" && s.listing.reasons.length === 0);
  });

  it("takes a silent host offline (downtime) and back when it reports again", async () => {
    beating.delete("gpu-c");
    const c = agents["gpu-c"]!;
    await c.agent.waitForState((s) => s.listing.reasons.includes("OFFLINE"), 10_000);
    expect((await hostOf(cp, "gpu-c")).online).toBe(false);
    beating.add("gpu-c");
    await c.agent.waitForState(
      (s) =>
        s.listing.state === "listed" &&
        !s.listing.reasons.includes("OFFLINE") &&
        c.agent.states.length > 0 &&
        s === c.agent.states.at(-1),
    );
    const r = await apiGet<{ current: { downtimeMinutes: number; reliability: number } }>(
      cp,
      "/api/v1/hosts/gpu-c/reliability",
    );
    expect(r.body.current.downtimeMinutes).toBeGreaterThanOrEqual(1);
    expect(r.body.current.reliability).toBe(1);
  });

  it("removes a host below 98% reliability, still visible to a renter with data on it", async () => {
    const rental = await api<{ id: string }>(cp, "POST", "/api/v1/rentals", {
      hostId: "gpu-a",
      renter: "bob",
    });
    await api(cp, "DELETE", `/api/v1/rentals/${rental.id}`);
    const a = agents["gpu-a"]!;
    await a.agent.send(healthy(a.agent, 8, "failed"));
    // 15 hours in a failed state: 900 minutes down, beyond the 874 that 98% allows.
    cp.advance(15 * HOUR);
    await a.agent.send(healthy(a.agent, 8));
    await cp.sweep();
    const host = await hostOf(cp, "gpu-a");
    expect(host.listing).toBe("removed");
    expect(host.listingReasons[0]).toBe("RELIABILITY_BELOW_MIN");
    expect(host.reliability).toBeLessThan(0.98);
    const bob = await apiGet<HostView[]>(cp, "/api/v1/pool?renter=bob");
    const carol = await apiGet<HostView[]>(cp, "/api/v1/pool?renter=carol");
    expect(bob.body.map((h) => h.id)).toContain("gpu-a");
    expect(carol.body.map((h) => h.id)).not.toContain("gpu-a");
  });

  it("unlists 4 days before a window, relists after it, and reports excessive maintenance", async () => {
    // A control plane of its own whose clock the test moves by days (no host goes offline here).
    const tcp = await startTestControlPlane(
      pg ? { postgresUrl: await pg.newDatabase("time_fleet") } : "sqlite",
      {
        offlineAfterMs: 40 * DAY,
        maxMaintenanceShare: 0.005,
      },
    );
    try {
      const info = machine("gpu-t", 2);
      const { agent } = await enrolledAgent(tcp, info);
      await agent.send(healthy(agent, 2));
      await tcp.sweep();
      await agent.waitForState((s) => s.listing.state === "listed");
      const start = Date.now() + 7 * DAY + HOUR;
      await api(tcp, "POST", "/api/v1/maintenance", {
        hostId: "gpu-t",
        start: new Date(start).toISOString(),
        duration: "4h",
      });
      // The clock only moves forward; each step lands relative to the window start.
      let offset = 0;
      const at = async (t: number) => {
        const now = Date.now() + offset;
        tcp.advance(t - now);
        offset += t - now;
        await agent.send(agent.envelope("heartbeat", {}));
        await tcp.sweep();
        return hostOf(tcp, "gpu-t");
      };
      expect((await at(start - 4 * DAY - 60_000)).listing).toBe("listed");
      expect(await at(start - 4 * DAY + 60_000)).toMatchObject({
        listing: "unlisted",
        listingReasons: ["MAINTENANCE_SOON"],
      });
      await agent.waitForState((s) => s.listing.reasons.includes("MAINTENANCE_SOON"));
      expect(await at(start + HOUR)).toMatchObject({
        listing: "unlisted",
        listingReasons: ["IN_MAINTENANCE"],
      });
      const scrape = async () =>
        (
          await fetch(`${tcp.url}/metrics`, { headers: { authorization: `Bearer ${tcp.adminToken}` } })
        ).text();
      expect(await scrape()).toContain('podkit_fleet_maintenance_windows{status="active"} 1');
      const after = await at(start + 4 * HOUR + 60_000);
      expect(after).toMatchObject({ listing: "listed", listingReasons: [], reliability: 1 });
      expect(after.maintenance.excessive).toBe(true);
      expect(await scrape()).toContain("podkit_fleet_hosts_excessive_maintenance 1");
      const rel = await apiGet<{ current: { maintenanceMinutes: number; downtimeMinutes: number } }>(
        tcp,
        "/api/v1/hosts/gpu-t/reliability",
      );
      expect(rel.body.current).toMatchObject({ maintenanceMinutes: 240, downtimeMinutes: 0 });
      const excessive = await apiGet<Array<{ message: string }>>(
        tcp,
        "/api/v1/events?kind=excessive-maintenance",
      );
      expect(excessive.body[0]!.message).toMatch(/^gpu-t: 0\.6% of 30 days in maintenance \(limit 0\.5%\)$/);
      await agent.close();
    } finally {
      await tcp.stop();
    }
  });
});

/**
 * Two replicas on one PostgreSQL database, sweeps an hour apart (so only LISTEN/NOTIFY, or a
 * re-read, carries a change from one to the other in time), and a listed host enrolled through
 * replica A whose agent is connected to replica B.
 */
async function replicasWithAgentOnB(
  pg: EphemeralPostgres,
  replicas: TestControlPlane[],
  name: string,
): Promise<{
  a: TestControlPlane;
  b: TestControlPlane;
  dbUrl: string;
  hostId: string;
  agent: SimulatedAgent;
}> {
  const dbUrl = await pg.newDatabase(name);
  const options = { adminToken: `pka_${name[0]!.repeat(40)}`, sweepIntervalMs: 3_600_000 };
  // Both migrate at start; the second finds the schema in place.
  replicas.push(await startTestControlPlane({ postgresUrl: dbUrl }, options));
  replicas.push(await startTestControlPlane({ postgresUrl: dbUrl }, options));
  const [a, b] = replicas as [TestControlPlane, TestControlPlane];
  const info = machine(`gpu-${name}`, 2);
  const { token } = await a.createEnrollmentToken();
  const { hostId, hostToken } = await SimulatedAgent.enroll(a.url, token, info);
  const agent = await SimulatedAgent.connect(b.url, hostToken);
  await agent.register(info);
  await agent.send(healthy(agent, 2));
  await agent.waitForState((s) => s.listing.state === "listed");
  return { a, b, dbUrl, hostId, agent };
}

describe("two control-plane replicas on one PostgreSQL", () => {
  it("agree on the fleet: what one replica is told reaches an agent connected to the other at once", async () => {
    const pg = await startEphemeralPostgres({ fsync: false });
    const replicas: TestControlPlane[] = [];
    try {
      const { a, b, hostId, agent } = await replicasWithAgentOnB(pg, replicas, "replicas");
      expect((await apiHost(a, hostId)).listing).toBe("listed");
      // An immediate window scheduled on replica A unlists the host on both, and the agent on B hears it.
      const window = await api<MaintenanceWindow>(a, "POST", "/api/v1/maintenance", {
        hostId,
        immediate: true,
        duration: "1h",
      });
      await agent.waitForState(
        (s) =>
          s.maintenanceWindows.some((w) => w.id === window.id) &&
          s.listing.reasons.includes("IN_MAINTENANCE"),
        3000,
      );
      expect(await apiHost(b, hostId)).toMatchObject({
        listing: "unlisted",
        listingReasons: ["IN_MAINTENANCE"],
      });
      // Cancelled on A, then rented out through A: the agent on B hears both at once.
      await api(a, "DELETE", `/api/v1/maintenance/${window.id}`);
      await agent.waitForState(
        (s) => s.listing.state === "listed" && s.maintenanceWindows.length === 0,
        3000,
      );
      await api(a, "POST", "/api/v1/rentals", { hostId, renter: "acme" });
      await agent.waitForState((s) => s.rented, 3000);
      expect((await apiHost(b, hostId)).rented).toBe(true);
      await agent.close();
    } finally {
      for (const r of replicas) await r.stop();
      await pg.close();
    }
  });

  it("re-reads what a replica missed while its LISTEN connection was down", async () => {
    const pg = await startEphemeralPostgres({ fsync: false });
    const replicas: TestControlPlane[] = [];
    try {
      const { a, dbUrl, hostId, agent } = await replicasWithAgentOnB(pg, replicas, "missed");
      // The listening connections end (a restart, a failover); a window scheduled on A meanwhile
      // is notified while B is not listening. Sweeps are an hour apart: only a re-read delivers it.
      const killed = execFileSync(
        "psql",
        [
          dbUrl,
          "-Atc",
          "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'podkit-change-feed' or query ilike 'LISTEN %'",
        ],
        { encoding: "utf8" },
      );
      expect(Number(killed.trim())).toBe(2);
      const window = await api<MaintenanceWindow>(a, "POST", "/api/v1/maintenance", {
        hostId,
        immediate: true,
        duration: "1h",
      });
      await agent.waitForState((s) => s.maintenanceWindows.some((w) => w.id === window.id), 10_000);
      await agent.close();
    } finally {
      for (const r of replicas) await r.stop();
      await pg.close();
    }
  });
});

describe.each(["sqlite", "postgres"] as const)("enrolment on %s", (backend) => {
  it("gives twelve machines with one hostname, enrolling at once, twelve distinct ids", async () => {
    const pg = backend === "postgres" ? await startEphemeralPostgres({ fsync: false }) : null;
    const cp = await startTestControlPlane(pg ? { postgresUrl: pg.url } : "sqlite");
    try {
      const info = machine("twin", 1);
      const tokens = await Promise.all(Array.from({ length: 12 }, () => cp.createEnrollmentToken()));
      const enrolled = await Promise.all(
        tokens.map(({ token }) => SimulatedAgent.enroll(cp.url, token, info)),
      );
      const ids = enrolled.map((e) => e.hostId).sort((x, y) => x.localeCompare(y, "en", { numeric: true }));
      expect(ids).toEqual(["twin", ...Array.from({ length: 11 }, (_, i) => `twin-${i + 2}`)]);
      expect((await hostsJson(cp)).map((h) => h.id).sort()).toEqual([...ids].sort());
    } finally {
      await cp.stop();
      await pg?.close();
    }
  });
});

/** Ask for the agents' WebSocket with `token`, then reset the connection after `afterMs`. */
function upgradeThenReset(url: string, token: string, afterMs: number): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        "GET /api/v1/agent/ws HTTP/1.1\r\nHost: podkit\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          `Authorization: Bearer ${token}\r\n\r\n`,
      );
      setTimeout(() => {
        socket.resetAndDestroy();
        resolve();
      }, afterMs);
    });
    socket.on("error", () => resolve());
  });
}

interface ControlPlaneProcessOn {
  cp: Awaited<ReturnType<typeof startControlPlaneProcess>>;
  /** The PostgreSQL database it uses, if any. */
  dbUrl: string | null;
  stop(): Promise<void>;
}

/** `podkit control-plane serve` as a real process, on SQLite or on a fresh PostgreSQL. */
async function controlPlaneProcessOn(backend: "sqlite" | "postgres"): Promise<ControlPlaneProcessOn> {
  const pg = backend === "postgres" ? await startEphemeralPostgres({ fsync: false }) : null;
  const dbUrl = pg ? await pg.newDatabase("process_fleet") : null;
  const cp = await startControlPlaneProcess({
    port: await freePort(),
    dataDir: join(tempDir(`cp-process-${backend}`), "data"),
    adminToken: "pka_process-e2e-admin-token-0001",
    db: dbUrl ?? undefined,
  });
  return {
    cp,
    dbUrl,
    stop: async () => {
      if (cp.proc.exitCode === null) await cp.stop();
      await pg?.close();
    },
  };
}

/** Still running, still answering, and a newly enrolled agent still gets its WebSocket. */
async function stillServing(cp: ControlPlaneProcessOn["cp"], name: string): Promise<void> {
  expect(cp.proc.exitCode, cp.logs()).toBeNull();
  expect((await fetch(`${cp.url}/healthz`)).status).toBe(200);
  const { token } = await cp.api<{ token: string }>("/api/v1/enrollment-tokens", {
    method: "POST",
    body: "{}",
  });
  const { hostToken } = await SimulatedAgent.enroll(cp.url, token, machine(name, 1));
  expect(await upgradeStatus(cp.url, { authorization: `Bearer ${hostToken}` })).toBe(101);
}

describe.each(["sqlite", "postgres"] as const)("the control plane process on %s", (backend) => {
  it("keeps serving when agents reset their connections while their token is being checked", async () => {
    const { cp, stop } = await controlPlaneProcessOn(backend);
    try {
      // Unknown host tokens: each one is looked up in the database, so the reset lands mid-check.
      for (let i = 0; i < 150; i++) await upgradeThenReset(cp.url, `pkh_unknown-${i}`, i % 3);
      await new Promise((r) => setTimeout(r, 300));
      await stillServing(cp, "after-resets");
      expect(cp.logs()).not.toContain("ECONNRESET");
    } finally {
      await stop();
    }
  });
});

describe("replicas sharing one admin token by configuration", () => {
  it("accept the token from --admin-token-file on each, and refuse another replica's own as wrong", async () => {
    const pg = await startEphemeralPostgres({ fsync: false });
    const dbUrl = await pg.newDatabase("shared_token");
    const dir = tempDir("cp-token");
    const file = join(dir, "admin-token");
    writeFileSync(file, `pka_${"s".repeat(40)}\n`, { mode: 0o600 });
    const started: Array<{ stop: () => Promise<void> }> = [];
    try {
      const replica = async (args: string[]) => {
        const p = await startControlPlaneProcess({
          port: await freePort(),
          dataDir: tempDir("cp-replica"),
          adminToken: "",
          db: dbUrl,
          args,
        });
        started.push(p);
        return p;
      };
      const a = await replica(["--admin-token-file", file]);
      const b = await replica(["--admin-token-file", file]);
      // A replica left to itself generates a token of its own, and says that it is its own.
      const own = await replica([]);
      expect(own.logs()).toContain("note: that token is this replica's own");
      const cli = (url: string, env: NodeJS.ProcessEnv) =>
        spawnSync(process.execPath, [PODKIT, "hosts", "list", "--json"], {
          encoding: "utf8",
          env: { ...process.env, PODKIT_ADMIN_TOKEN: "", PODKIT_CONTROL_PLANE: url, ...env },
        });
      for (const r of [a, b]) expect(cli(r.url, { PODKIT_ADMIN_TOKEN_FILE: file }).status).toBe(0);
      const ownToken = /admin token kept in (\S+) /.exec(own.logs())![1]!;
      const refused = cli(a.url, { PODKIT_ADMIN_TOKEN_FILE: ownToken });
      expect(refused.status).toBe(5);
      expect(refused.stderr).toContain("wrong admin token");
      const none = cli(a.url, { PODKIT_ADMIN_TOKEN_FILE: "" });
      expect(none.stderr).toMatch(/admin token required|no admin token/);
    } finally {
      for (const p of started) await p.stop();
      await pg.close();
    }
  });
});

describe("the control plane process on PostgreSQL", () => {
  it("keeps serving when PostgreSQL drops its connections (a restart or failover)", async () => {
    const { cp, dbUrl, stop } = await controlPlaneProcessOn("postgres");
    try {
      await stillServing(cp, "before-failover");
      // What a PostgreSQL restart does to every connection: the server ends it.
      const dropped = execFileSync(
        "psql",
        [
          dbUrl!,
          "-Atc",
          "select count(pg_terminate_backend(pid)) from pg_stat_activity where pid <> pg_backend_pid() and datname = current_database()",
        ],
        { encoding: "utf8" },
      );
      expect(Number(dropped.trim())).toBeGreaterThan(0);
      await until(
        "the control plane to notice",
        // Pooled connections idle for 10 s are closed by the pool; the LISTEN connection always stays.
        async () =>
          cp.proc.exitCode !== null ||
          /lost an idle database connection|lost a database connection in use|host-change listener lost its connection/.test(
            cp.logs(),
          ),
      );
      await stillServing(cp, "after-failover");
    } finally {
      await stop();
    }
  });
});
