import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentArgs,
  FakeKernelLog,
  H100_CAPTURE,
  startAgentProcess,
  TESTDATA,
  tempDir,
  waitFor,
} from "./agent/helpers.js";
import { startPrometheus } from "./agent/prometheus.js";

const DASHBOARD = fileURLToPath(
  new URL("../packages/host-agent/dashboards/podkit-host-agent.json", import.meta.url),
);

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

/** Every PromQL expression of the dashboard, with Grafana's variables as Prometheus can run them. */
function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
    panels: Panel[];
    templating: { list: Array<{ definition?: string }> };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
  return exprs.map((e) =>
    e
      .replaceAll('"$instance"', '".*"')
      .replaceAll('"$gpu"', '".*"')
      .replaceAll("$__rate_interval", "1m")
      // label_values(expr, label) is Grafana's; the series selector inside is PromQL.
      .replace(/^label_values\((.*), \w+\)$/, "$1"),
  );
}

describe("the Grafana dashboard shipped with the agent", () => {
  const dir = tempDir("agent-dashboard");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  let agent: AgentProcess | null = null;
  let prom: Awaited<ReturnType<typeof startPrometheus>> | null = null;
  afterAll(async () => {
    await prom?.close();
    if (agent && agent.proc.exitCode === null) await agent.kill9();
  });

  it("queries only metrics that a real Prometheus scraping the agent has, in expressions it accepts", async () => {
    agent = await startAgentProcess(agentArgs({ kmsgPath: kmsg.path, stateDir: join(dir, "state") }), {
      FAKE_SMI_CAPTURE: H100_CAPTURE,
      PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
    });
    // An XID that wants a GPU reset, so the XID counter and the health reasons have series too.
    for (const line of readFileSync(join(TESTDATA, "gpud__xid-readme__xid13-31-109.log"), "utf8").split("\n"))
      if (line) kmsg.append(line.replace("PCI:0000:cb:00", "PCI:0000:00:09"));
    prom = await startPrometheus([new URL(agent.metricsUrl).host]);

    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    const wanted = [...new Set(queries.flatMap((q) => q.match(/\bpodkit_[a-z0-9_]+/g) ?? []))].sort();
    const names = async () => {
      const res = await fetch(`${prom!.url}/api/v1/label/__name__/values`);
      return new Set(((await res.json()) as { data: string[] }).data);
    };
    // The host collector's CPU ratio needs two samples (10 s apart): wait until every name is in.
    let missing = wanted;
    await waitFor(
      "every queried metric scraped",
      async () => {
        const have = await names();
        missing = wanted.filter((n) => !have.has(n));
        return missing.length === 0;
      },
      40_000,
      500,
    ).catch(() => undefined); // the assertion below names what never came
    expect(missing).toEqual([]);
    for (const q of queries) {
      const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; error?: string };
      expect(`${q}: ${body.status} ${body.error ?? ""}`).toBe(`${q}: success `);
    }
    expect(await agent.stop()).toBe(0);
  });
});
