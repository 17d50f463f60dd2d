import { accessSync, constants, existsSync, mkdirSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { startControlPlane } from "@podkit/control-plane";
import { createLogger, findOnPath, type Logger } from "@podkit/core";
import { SIMULATED_CAPTURES, startAgent } from "@podkit/host-agent";
import { startS3Gateway } from "@podkit/s3-gateway";
import { startRelay } from "@podkit/transfer";
import { selfArgv } from "../self.js";
import type { StackInfo } from "./screen.js";
import { keepJson, randomSecret } from "./secrets.js";

export interface StackOptions {
  dataDir: string;
  controlPlaneListen: string;
  s3Listen: string;
  relayHost: string;
  relayPorts: number[];
  metricsListen: string;
  /** Force the simulated GPU source even where nvidia-smi exists. */
  simulate?: boolean;
  logger?: Logger;
}

export interface RunningStack {
  info: StackInfo;
  close(): Promise<void>;
}

export const DEMO_BUCKET = "demo";
// The recorded 8× RTX 4090 is healthy; the recorded 8× H100 had its power brake asserted on every
// GPU, so a demo host replaying it would read degraded and soon lose its listing (docs/host.md).
const SIMULATED_CAPTURE = "rtx4090-8x";

/** Files kept in the data dir between runs (all mode 0600). */
interface S3Secrets {
  credentials: { accessKeyId: string; secretAccessKey: string; volumes: string[] }[];
}

function kernelLogReadable(): boolean {
  try {
    accessSync("/dev/kmsg", constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** How a person runs this very CLI from a shell: `podkit` if that is what PATH finds, else its path. */
export function podkitCommandLine(): string {
  const self = selfArgv();
  const main = self[self.length - 1] as string;
  const onPath = findOnPath("podkit");
  try {
    if (onPath && realpathSync(onPath) === realpathSync(main)) return "podkit";
  } catch {
    // a dangling link, or main went away
  }
  return self.length === 1 ? main : `node ${main}`;
}

/**
 * Start the whole platform in this process, on embedded defaults: the control plane on SQLite,
 * an enrolled agent for this machine, the S3 gateway over DATA/volumes and a loopback relay.
 * Each piece is the same code as in production; only the defaults differ.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  // Long on purpose: the services start in dependency order inside one try, so a failure stops
  // whatever had started before it.
  const dataDir = resolve(options.dataDir);
  const log = options.logger ?? createLogger({ name: "podkit-up" });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, "while stopping");
      }
    }
  };

  try {
    const controlPlane = await startControlPlane({
      listen: options.controlPlaneListen,
      dataDir: join(dataDir, "control-plane"),
      ...(process.env.PODKIT_ADMIN_TOKEN ? { adminToken: process.env.PODKIT_ADMIN_TOKEN } : {}),
      logger: log.child({ component: "control-plane" }),
    });
    closers.push(() => controlPlane.close());

    // The enrolment token is made once and kept; the agent trades it for its host token on first start.
    const enrollment = await (async () => {
      const file = join(dataDir, "enrollment-token.json");
      const agentCredentials = join(dataDir, "agent", "credentials.json");
      if (existsSync(file) && existsSync(agentCredentials)) return keepJson(file, () => ({ token: "" }));
      const fresh = await controlPlane.createEnrollmentToken();
      return keepJson(file, () => fresh);
    })();

    const nvidiaSmi = options.simulate ? null : findOnPath("nvidia-smi");
    const agent = await startAgent({
      stateDir: join(dataDir, "agent"),
      metricsListen: options.metricsListen,
      controlPlane: controlPlane.url,
      token: enrollment.token,
      ...(nvidiaSmi ? { nvidiaSmiPath: nvidiaSmi } : { simulate: SIMULATED_CAPTURE }),
      kmsgPath: nvidiaSmi && kernelLogReadable() ? "/dev/kmsg" : null,
      disks: [dataDir],
      logger: log.child({ component: "agent" }),
    });
    closers.push(() => agent.close());

    const volumes = join(dataDir, "volumes");
    mkdirSync(join(volumes, DEMO_BUCKET), { recursive: true });
    const s3Secrets = keepJson<S3Secrets>(join(dataDir, "s3-credentials.json"), () => ({
      credentials: [
        {
          accessKeyId: `PK${randomSecret(9)
            .toUpperCase()
            .replace(/[^A-Z0-9]/g, "X")}`,
          secretAccessKey: randomSecret(30),
          volumes: ["*"],
        },
      ],
    }));
    const region = "us-east-1";
    const s3 = await startS3Gateway({
      root: volumes,
      listen: options.s3Listen,
      region,
      credentials: s3Secrets.credentials,
      accessLog: log.child({ component: "s3" }),
    });
    closers.push(() => s3.close());

    const relaySecrets = keepJson(join(dataDir, "relay.json"), () => ({ password: randomSecret(12) }));
    const relay = await startRelay({
      host: options.relayHost,
      ports: options.relayPorts,
      pass: relaySecrets.password,
    });
    closers.push(() => relay.close());

    const key = s3Secrets.credentials[0]!;
    const info: StackInfo = {
      dataDir,
      controlPlane: {
        url: controlPlane.url,
        dashboardUrl: `${controlPlane.url}/`,
        adminToken: controlPlane.adminToken,
        adminTokenFile: controlPlane.adminTokenFile,
      },
      s3: {
        endpoint: s3.endpoint,
        accessKey: key.accessKeyId,
        secretKey: key.secretAccessKey,
        bucket: DEMO_BUCKET,
        region,
      },
      relay: { address: relay.address, password: relaySecrets.password },
      agent: {
        metricsUrl: agent.metricsUrl,
        stateDir: agent.stateDir,
        simulated: !nvidiaSmi,
        gpuSource: nvidiaSmi ?? SIMULATED_CAPTURES[SIMULATED_CAPTURE]!.description,
      },
      podkitCommand: podkitCommandLine(),
    };
    return { info, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
