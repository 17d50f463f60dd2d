import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./browser.js";
import { agentStatusFile, type RealAgent, startRealAgent, untilHosts } from "./control-plane/agents.js";
import {
  scheduleWithCli,
  startTestControlPlane,
  type TestControlPlane,
  until,
} from "./control-plane/harness.js";

const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/control-plane/", import.meta.url));
const XID_LINE = readFileSync(
  fileURLToPath(new URL("./testdata/control-plane/xid13.log", import.meta.url)),
  "utf8",
).trim();

describe("dashboard in headless Chromium", () => {
  let cp: TestControlPlane;
  const agents: RealAgent[] = [];
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cp = await startTestControlPlane("sqlite", { sampleEveryMs: 300 });
    agents.push(...(await Promise.all(["dash-a", "dash-b"].map((n) => startRealAgent(cp, n)))));
    profile = mkdtempSync(join(tmpdir(), "podkit-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on("request", (r) => requests.push(r.url()));
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    for (const a of agents) if (a.process.proc.exitCode === null) await a.process.stop();
    await cp?.stop();
  });

  it("asks for the admin token, then shows the hosts the agents reported", async () => {
    const hosts = await untilHosts(
      cp,
      "two reporting hosts",
      (hs) => hs.length === 2 && hs.every((h) => h.health !== null && h.online),
    );
    await page.goto(cp.url);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.screenshot({ path: join(ARTIFACTS, "login.png") });
    await page.fill("input[name=token]", "pka_not-the-right-token-at-all");
    await page.click("button[type=submit]");
    await expect(page.locator("text=wrong admin token").count()).resolves.toBe(1);
    await page.fill("input[name=token]", cp.adminToken);
    await page.click("button[type=submit]");
    await page.waitForSelector("table#hosts");
    for (const h of hosts) {
      const row = page.locator(`tr[data-host="${h.id}"]`);
      await expect(row.locator("td.gpus").innerText()).resolves.toBe("8 × NVIDIA H100 80GB HBM3 simulated");
      await expect(row.locator("td.health").innerText()).resolves.toBe(h.health);
      await expect(row.locator("td.listing").innerText()).resolves.toContain(h.listing);
      await expect(row.locator("td.reliability").innerText()).resolves.toBe("100.00%");
    }
    await page.screenshot({ path: join(ARTIFACTS, "hosts.png"), fullPage: true });
  });

  it("shows a host's charts, XID history, calendar and reliability, and a window scheduled with the CLI", async () => {
    const hostId = agentStatusFile(agents[0]!).hostId!;
    agents[0]!.kmsg.append(XID_LINE);
    const start = new Date(Date.now() + 9 * 86_400_000);
    start.setUTCHours(2, 0, 0, 0);
    const window = await scheduleWithCli(
      cp,
      hostId,
      "--start",
      start.toISOString(),
      "--duration",
      "4h",
      "--reason",
      "BMC firmware",
    );
    // Wait for a few chart samples and the XID to arrive.
    let last = "";
    await until("chart samples and the XID", async () => {
      const headers = { authorization: `Bearer ${cp.adminToken}` };
      const samples = (await (
        await fetch(`${cp.url}/api/v1/hosts/${hostId}/samples`, { headers })
      ).json()) as unknown[];
      const xids = (await (
        await fetch(`${cp.url}/api/v1/events?host=${hostId}&kind=xid`, { headers })
      ).json()) as unknown[];
      last = `${samples.length} samples, ${xids.length} XIDs`;
      return samples.length >= 3 * 8 && xids.length > 0;
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    await page.goto(`${cp.url}/hosts/${hostId}`);
    await expect(page.locator("h2").first().innerText()).resolves.toContain(hostId);
    await expect(page.locator("table#gpus tbody tr").count()).resolves.toBe(8);
    await expect(page.locator("#charts svg").count()).resolves.toBe(2);
    await expect(page.locator("#charts svg path[stroke]").count()).resolves.toBeGreaterThanOrEqual(8);
    await expect(page.locator("#reliability-chart svg path[stroke]").count()).resolves.toBe(1);
    await expect(page.locator("#reliability").innerText()).resolves.toBe("100.00%");
    await expect(page.locator("table#xids tbody").innerText()).resolves.toMatch(/xid\s+.*XID 13/);
    await expect(page.locator("table#maintenance tbody").innerText()).resolves.toContain(window.id);
    const day = start.toISOString().slice(0, 10);
    await expect(page.locator(`.cal div[data-day="${day}"]`).getAttribute("class")).resolves.toContain("mw");
    await page.screenshot({ path: join(ARTIFACTS, "host.png"), fullPage: true });

    await page.goto(`${cp.url}/maintenance`);
    await expect(page.locator("table#maintenance tbody").innerText()).resolves.toContain("BMC firmware");
    await page.screenshot({ path: join(ARTIFACTS, "maintenance.png"), fullPage: true });
    await page.goto(`${cp.url}/events`);
    await expect(page.locator("table#events tbody").innerText()).resolves.toContain("maintenance");
    await page.screenshot({ path: join(ARTIFACTS, "events.png"), fullPage: true });
    // Everything came from the control plane itself: no CDN, no other host.
    expect(requests.every((u) => u.startsWith(cp.url))).toBe(true);
  });
});
