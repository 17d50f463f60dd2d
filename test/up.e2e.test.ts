import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./browser.js";
import { hostPort, isListening, podkitSync, type Spawned, spawnPodkit, waitFor } from "./up/processes.js";

interface UpJson {
  controlPlane: { url: string; adminToken: string };
  s3: { endpoint: string; accessKey: string; secretKey: string; bucket: string };
  relay: { address: string; password: string };
  agent: { metricsUrl: string; simulated: boolean; gpuSource: string };
}

/** Every listener of the stack on a free loopback port, so the suite never collides with anything. */
const EPHEMERAL_LISTEN = [
  "--control-plane-listen",
  "127.0.0.1:0",
  "--s3-listen",
  "127.0.0.1:0",
  "--metrics-listen",
  "127.0.0.1:0",
  "--relay-ports",
  "0,0,0,0,0",
];

const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts", "up");

describe("podkit up: the whole platform on one machine", () => {
  let dir: string;
  let up: Spawned;
  let stack: UpJson;
  let cpEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "podkit-up-"));
    up = spawnPodkit(["up", "--data", join(dir, "data"), "--json", ...EPHEMERAL_LISTEN]);
    stack = await waitFor(
      "podkit up --json",
      () => {
        const text = up.stdout();
        if (!text.trim().endsWith("}")) return undefined;
        return JSON.parse(text) as UpJson;
      },
      90_000,
    ).catch((err) => {
      throw new Error(`${String(err)}\nstderr:\n${up.stderr()}`);
    });
    cpEnv = {
      PODKIT_CONTROL_PLANE: stack.controlPlane.url,
      PODKIT_ADMIN_TOKEN: stack.controlPlane.adminToken,
    };
  });

  afterAll(async () => {
    if (up && up.child.exitCode === null) up.child.kill("SIGKILL");
  });

  it("prints every URL and credential as one JSON object", () => {
    expect(stack.controlPlane.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.controlPlane.adminToken).toMatch(/^pka_/);
    expect(stack.s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.s3.bucket).toBe("demo");
    expect(stack.relay.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stack.agent.metricsUrl).toMatch(/\/metrics$/);
    // No GPU here: the agent says plainly that it replays a recorded capture.
    expect(stack.agent.simulated).toBe(true);
    expect(stack.agent.gpuSource).toMatch(/^SIMULATED: replay of a recorded/);
  });

  it("lists this host and its GPUs through the CLI", async () => {
    const hosts = await waitFor("the enrolled host with its GPUs", () => {
      const r = podkitSync(["hosts", "list", "--json"], cpEnv);
      if (r.code !== 0) throw new Error(r.stderr);
      const list = JSON.parse(r.stdout) as Array<{ id: string; gpus: unknown[]; listing: unknown }>;
      return list.length === 1 && list[0]!.gpus.length === 8 ? list : undefined;
    });
    expect(hosts[0]!.gpus).toHaveLength(8);
    // The demo host replays a healthy recording, so it is listed like a good machine would be.
    const host = await waitFor("the demo host to be judged healthy and listed", () => {
      const [h] = JSON.parse(podkitSync(["hosts", "list", "--json"], cpEnv).stdout) as Array<{
        health: unknown;
        listing: unknown;
      }>;
      const state = (v: unknown) => (typeof v === "string" ? v : (v as { state: string }).state);
      return state(h!.health) === "healthy" && state(h!.listing) === "listed"
        ? { health: state(h!.health), listing: state(h!.listing) }
        : undefined;
    });
    expect(host).toEqual({ health: "healthy", listing: "listed" });
    const metrics = await (await fetch(stack.agent.metricsUrl)).text();
    expect(metrics).toMatch(/podkit_gpu_info\{[^}]*RTX 4090/);
  });

  it("shows the host on the dashboard in headless Chromium", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(`${stack.controlPlane.url}/`);
      await page.locator('input[name="token"]').fill(stack.controlPlane.adminToken);
      await page.locator('input[name="token"]').press("Enter");
      await page.waitForSelector("table");
      const table = await page.locator("table").first().textContent();
      expect(table).toMatch(/RTX 4090/);
      expect(table).toMatch(/\b8\b/);
      // The agent replays a recorded capture here, and the hosts table says so.
      expect(table).toMatch(/GeForce RTX 4090 simulated/);
      await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it("stores and lists objects with the AWS CLI", () => {
    const file = join(dir, "hello.txt");
    writeFileSync(file, "hello from podkit up\n");
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: stack.s3.accessKey,
      AWS_SECRET_ACCESS_KEY: stack.s3.secretKey,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    };
    const aws = (...args: string[]) =>
      spawnSync("/usr/bin/aws", [...args, "--endpoint-url", stack.s3.endpoint], { env, encoding: "utf8" });
    const put = aws("s3", "cp", file, `s3://${stack.s3.bucket}/notes/hello.txt`);
    expect(put.status, put.stderr).toBe(0);
    const ls = aws("s3", "ls", `s3://${stack.s3.bucket}/notes/`);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/\s21 hello\.txt/);
    // The object is a plain file on the volume, as a Pod would see it.
    expect(readFileSync(join(dir, "data", "volumes", "demo", "notes", "hello.txt"), "utf8")).toBe(
      "hello from podkit up\n",
    );
  });

  it("sends and receives a file through the relay", async () => {
    const src = join(dir, "payload.bin");
    writeFileSync(src, Buffer.alloc(300_000, 7));
    const out = join(dir, "received");
    mkdirSync(out);
    const relayFlags = ["--relay", stack.relay.address, "--relay-pass", stack.relay.password];
    const code = "4417-podkit-up-demo";
    const sender = spawnPodkit(["send", src, "--code", code, ...relayFlags]);
    await waitFor("the sender to wait for its receiver", () =>
      sender.stdout().includes(code) ? true : undefined,
    );
    const receiver = podkitSync(["receive", code, "--out", out, "--yes", ...relayFlags]);
    expect(receiver.code, receiver.stderr).toBe(0);
    expect(await sender.exited).toBe(0);
    expect(readFileSync(join(out, "payload.bin")).equals(readFileSync(src))).toBe(true);
  });

  it("unlists the host when maintenance is scheduled", async () => {
    const [host] = JSON.parse(podkitSync(["hosts", "list", "--json"], cpEnv).stdout) as Array<{ id: string }>;
    const r = podkitSync(["maintenance", "schedule", host!.id, "--duration", "1h", "--immediate"], cpEnv);
    expect(r.code, r.stderr).toBe(0);
    const listing = await waitFor("the host to leave the pool", () => {
      const [h] = JSON.parse(podkitSync(["hosts", "list", "--json"], cpEnv).stdout) as Array<{
        listing: unknown;
      }>;
      const state = typeof h!.listing === "string" ? h!.listing : (h!.listing as { state: string }).state;
      return state === "unlisted" ? state : undefined;
    });
    expect(listing).toBe("unlisted");
  });

  it("stops on Ctrl-C with nothing left listening", async () => {
    const endpoints = [
      stack.controlPlane.url,
      stack.s3.endpoint,
      stack.relay.address,
      stack.agent.metricsUrl,
    ].map(hostPort);
    up.child.kill("SIGINT");
    expect(await up.exited).toBe(0);
    for (const { host, port } of endpoints)
      expect(await isListening(host, port), `${host}:${port}`).toBe(false);
  });
});

describe("podkit up --detach and podkit down", () => {
  it("runs the stack in the background until podkit down stops it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "podkit-up-detach-"));
    const data = join(dir, "data");
    const started = podkitSync(["up", "--detach", "--json", "--data", data, ...EPHEMERAL_LISTEN]);
    expect(started.code, started.stderr).toBe(0);
    const stack = JSON.parse(started.stdout) as UpJson;
    const cp = hostPort(stack.controlPlane.url);
    // The command has returned; the stack keeps serving.
    expect(await isListening(cp.host, cp.port)).toBe(true);
    const again = podkitSync(["up", "--detach", "--data", data]);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/a Podkit stack already runs from .* stop it with `podkit down/);

    const down = podkitSync(["down", "--data", data, "--json"]);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ stopped: true, forced: false });
    expect(await isListening(cp.host, cp.port)).toBe(false);
    const none = podkitSync(["down", "--data", data]);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/no Podkit stack is running from/);
  });
});
