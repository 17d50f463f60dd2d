import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type EphemeralPostgres, startEphemeralPostgres } from "@podkit/control-plane/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { podkit as agentCli } from "./agent/helpers.js";
import {
  type AgentStatusJson,
  agentStatusFile,
  hostsJson,
  type RealAgent,
  startRealAgent,
  untilHosts,
} from "./control-plane/agents.js";
import {
  scheduleWithCli,
  startTestControlPlane,
  type TestControlPlane,
  until,
} from "./control-plane/harness.js";

const XID_LINE = readFileSync(
  fileURLToPath(new URL("./testdata/control-plane/xid13.log", import.meta.url)),
  "utf8",
).trim();

/** What `podkit agent status --json` prints for this agent (the command a host operator runs). */
const agentStatus = (a: RealAgent) =>
  JSON.parse(agentCli(["agent", "status", "--json", "--state-dir", a.stateDir]).stdout) as AgentStatusJson;

describe.each(["sqlite", "postgres"] as const)("real agents against the control plane on %s", (backend) => {
  let pg: EphemeralPostgres | null = null;
  let cp: TestControlPlane;
  const agents: RealAgent[] = [];

  beforeAll(async () => {
    if (backend === "postgres") pg = await startEphemeralPostgres({ fsync: false });
    cp = await startTestControlPlane(pg ? { postgresUrl: pg.url } : "sqlite", { offlineAfterMs: 3000 });
    // Three agents at once (they share this machine's hostname, so the ids get a suffix).
    agents.push(...(await Promise.all(["one", "two", "three"].map((n) => startRealAgent(cp, n)))));
  });

  afterAll(async () => {
    for (const a of agents) if (a.process.proc.exitCode === null) await a.process.stop();
    await cp?.stop();
    await pg?.close();
  });

  it("lists every agent's host with what the agent itself reports", async () => {
    const hosts = await untilHosts(
      cp,
      "three hosts with health and 8 GPUs",
      (hs) =>
        hs.length === 3 &&
        hs.every(
          (h) =>
            h.health !== null && h.online && h.gpus.length === 8 && h.gpus[0]!.temperatureCelsius !== null,
        ),
    );
    for (const a of agents) {
      const status = agentStatus(a);
      const host = hosts.find((h) => h.id === status.hostId);
      expect(host, `host ${status.hostId} on the control plane`).toBeDefined();
      expect(host!.health).toBe(status.machine.health.state);
      expect(host!.gpus.map((g) => g.name)).toEqual(Array(8).fill("NVIDIA H100 80GB HBM3"));
      expect(host!.machine.simulated).toBe(true);
    }
    const ids = hosts.map((h) => h.id);
    expect(new Set(ids).size).toBe(3);
    expect((await hostsJson(cp)).map((h) => h.id)).toEqual(ids);
    // The listing the control plane decided reaches each agent (`podkit agent status` shows it).
    await until("agents to know their listing", async () =>
      agents.every((a) => {
        const s = agentStatusFile(a);
        const host = hosts.find((h) => h.id === s.hostId)!;
        return s.listing?.state === host.listing;
      }),
    );
  });

  it("carries an XID from an agent's kernel log to the control plane's events", async () => {
    const a = agents[0]!;
    const hostId = agentStatusFile(a).hostId!;
    a.kmsg.append(XID_LINE);
    const xids = await until("the XID event", async () => {
      const res = await fetch(`${cp.url}/api/v1/events?host=${hostId}&kind=xid`, {
        headers: { authorization: `Bearer ${cp.adminToken}` },
      });
      const body = (await res.json()) as Array<{
        message: string;
        data: { xid: { xid: number; pciBusId: string | null } };
      }>;
      return body.length > 0 ? body : undefined;
    });
    expect(xids[0]!.data.xid.xid).toBe(13);
    expect(xids[0]!.message).toMatch(new RegExp(`^${hostId}: XID 13 on `));
  });

  it("hands a maintenance window scheduled through the CLI to the agent", async () => {
    const hostId = agentStatusFile(agents[1]!).hostId!;
    const start = new Date(Date.now() + 8 * 86_400_000).toISOString();
    const window = await scheduleWithCli(cp, hostId, "--start", start, "--duration", "2h");
    await until("the agent to hold the window", async () =>
      agentStatusFile(agents[1]!).maintenanceWindows.some((w) => w.id === window.id && w.start === start),
    );
  });

  it("marks a killed agent offline and takes it back when it restarts", async () => {
    const a = agents[2]!;
    const hostId = agentStatusFile(a).hostId!;
    await a.process.kill9();
    await untilHosts(cp, `${hostId} offline`, (hs) =>
      hs.some((h) => h.id === hostId && !h.online && h.listingReasons.includes("OFFLINE")),
    );
    await a.restart();
    const hosts = await untilHosts(cp, `${hostId} back`, (hs) =>
      hs.some((h) => h.id === hostId && h.online && !h.listingReasons.includes("OFFLINE")),
    );
    expect(hosts).toHaveLength(3);
    const res = await fetch(`${cp.url}/api/v1/hosts/${hostId}/reliability`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    const { current } = (await res.json()) as { current: { downtimeMinutes: number } };
    expect(current.downtimeMinutes).toBeGreaterThanOrEqual(1);
    expect((await hostsJson(cp)).length).toBe(3);
  });
});
