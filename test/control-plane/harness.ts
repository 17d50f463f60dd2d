import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ControlPlaneHandle,
  type ControlPlaneOptions,
  type HostView,
  startControlPlane,
} from "@podkit/control-plane";
import { SimulatedAgent, startEphemeralPostgres } from "@podkit/control-plane/testing";
import { createLogger, type MachineInfo, type MaintenanceWindow } from "@podkit/core";
import { expect } from "vitest";

export const PODKIT = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `podkit` command as a user would, against one control plane. */
export function podkit(
  cp: Pick<ControlPlaneHandle, "url" | "adminToken"> | null,
  ...args: string[]
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, PODKIT_LOG_LEVEL: "warn" };
  delete env.PODKIT_CONTROL_PLANE;
  delete env.PODKIT_ADMIN_TOKEN;
  if (cp) {
    env.PODKIT_CONTROL_PLANE = cp.url;
    env.PODKIT_ADMIN_TOKEN = cp.adminToken;
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [PODKIT, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A machine as an agent registers it: `gpus` H100s unless told otherwise. */
export function machine(hostname: string, gpus = 8, name = "NVIDIA H100 80GB HBM3"): MachineInfo {
  return {
    hostname,
    os: "Debian GNU/Linux 12",
    kernel: "6.1.0-podkit",
    cpuModel: "AMD EPYC 9454",
    cpuCount: 96,
    memoryTotalBytes: 1_099_511_627_776,
    driverVersion: "550.54.15",
    cudaVersion: "12.4",
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      uuid: `GPU-${hostname}-${index}`,
      name,
      pciBusId: `00000000:${(0x18 + index * 0x10).toString(16).toUpperCase()}:00.0`,
      memoryTotalBytes: 85_899_345_920,
      gpuTypeId: name,
    })),
    simulated: true,
    simulatedSource: "test",
  };
}

export type Backend = "sqlite" | "postgres";

export interface TestControlPlane extends ControlPlaneHandle {
  dataDir: string;
  /** Move the control plane's clock forward. */
  advance(ms: number): void;
  stop(): Promise<void>;
}

/** A control plane on a free port with a fresh SQLite file or a fresh PostgreSQL server. */
export async function startTestControlPlane(
  backend: Backend | { postgresUrl: string },
  options: Partial<ControlPlaneOptions> = {},
): Promise<TestControlPlane> {
  const dataDir = mkdtempSync(join(tmpdir(), "podkit-cp-"));
  const pg = backend === "postgres" ? await startEphemeralPostgres({ fsync: false }) : null;
  const db =
    typeof backend === "object" ? backend.postgresUrl : pg ? pg.url : join(dataDir, "control-plane.sqlite");
  let offset = 0;
  try {
    const handle = await startControlPlane({
      listen: "127.0.0.1:0",
      dataDir,
      db,
      sweepIntervalMs: 200,
      clock: () => Date.now() + offset,
      logger: createLogger({ name: "control-plane", level: process.env.PODKIT_LOG_LEVEL ?? "warn" }),
      ...options,
    });
    return {
      ...handle,
      dataDir,
      advance: (ms) => {
        offset += ms;
      },
      stop: async () => {
        await handle.close();
        await pg?.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await pg?.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Enrol a host with a fresh enrolment token, connect and register it. */
export async function enrolledAgent(
  cp: TestControlPlane,
  info: MachineInfo,
): Promise<{ agent: SimulatedAgent; hostId: string; hostToken: string }> {
  const { token } = await cp.createEnrollmentToken();
  const { hostId, hostToken } = await SimulatedAgent.enroll(cp.url, token, info);
  const agent = await SimulatedAgent.connect(cp.url, hostToken);
  await agent.register(info);
  return { agent, hostId, hostToken };
}

export function healthy(
  agent: SimulatedAgent,
  gpus: number,
  state: "healthy" | "failed" | "degraded" = "healthy",
) {
  const at = new Date().toISOString();
  const verdict = {
    state,
    reasons:
      state === "healthy" ? [] : [{ code: "TEST_FAULT", message: "injected by the test", state, since: at }],
    at,
  };
  return agent.envelope("health", {
    machine: verdict,
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      verdict: { state: "healthy" as const, reasons: [], at },
    })),
  });
}

export function telemetry(
  agent: SimulatedAgent,
  info: MachineInfo,
  temperature: number,
  utilization: number,
) {
  const at = new Date().toISOString();
  return agent.envelope("telemetry", {
    host: {
      at,
      hostname: info.hostname,
      cpuCount: info.cpuCount,
      cpuUtilizationRatio: 0.2,
      load1: 3.1,
      memoryTotalBytes: info.memoryTotalBytes,
      memoryAvailableBytes: info.memoryTotalBytes / 2,
      disks: [{ mount: "/", totalBytes: 2e12, usedBytes: 4e11 }],
    },
    gpus: info.gpus.map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      pciBusId: g.pciBusId,
      temperatureCelsius: temperature + g.index,
      utilizationRatio: utilization,
      memoryUsedBytes: 1e10,
      memoryTotalBytes: g.memoryTotalBytes,
      powerWatts: 350,
    })),
  });
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `GET /api/v1/hosts` (the same JSON as `podkit hosts list --json`, without a process per poll). */
export async function apiHosts(cp: Pick<ControlPlaneHandle, "url" | "adminToken">): Promise<HostView[]> {
  const res = await fetch(`${cp.url}/api/v1/hosts`, {
    headers: { authorization: `Bearer ${cp.adminToken}` },
  });
  if (!res.ok) throw new Error(`GET /api/v1/hosts: HTTP ${res.status}`);
  return (await res.json()) as HostView[];
}

export async function apiHost(
  cp: Pick<ControlPlaneHandle, "url" | "adminToken">,
  id: string,
): Promise<HostView> {
  const host = (await apiHosts(cp)).find((h) => h.id === id);
  if (!host) throw new Error(`no host ${id}`);
  return host;
}

export async function api<T>(
  cp: Pick<ControlPlaneHandle, "url" | "adminToken">,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${cp.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${cp.adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** `podkit maintenance schedule HOST FLAGS… --json`, as an operator runs it; the window it printed. */
export async function scheduleWithCli(
  cp: Pick<ControlPlaneHandle, "url" | "adminToken">,
  host: string,
  ...flags: string[]
): Promise<MaintenanceWindow> {
  const r = await podkit(cp, "maintenance", "schedule", host, ...flags, "--json");
  if (r.code !== 0) throw new Error(`podkit maintenance schedule ${host}: exit ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as MaintenanceWindow;
}
