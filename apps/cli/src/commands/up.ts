import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConflictError, createLogger, NotFoundError, PodkitError, UnavailableError } from "@podkit/core";
import type { Command } from "commander";
import { type Output, printJson } from "../output.js";
import { selfArgv } from "../self.js";
import { type StackInfo, stackJson, stackScreen } from "../up/screen.js";
import { writePrivateFile } from "../up/secrets.js";
import { startStack } from "../up/stack.js";

interface UpFlags {
  data: string;
  json?: boolean;
  detach?: boolean;
  controlPlaneListen: string;
  s3Listen: string;
  relayHost: string;
  relayPorts: string;
  metricsListen: string;
  simulate?: boolean;
}

/** DATA/stack.json: who runs the stack and what it serves (holds secrets: mode 0600). */
interface StackFile {
  pid: number;
  startedAt: string;
  info: StackInfo;
}

const STACK_FILE = "stack.json";
const LOG_FILE = "podkit-up.log";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readStackFile(dataDir: string): StackFile | null {
  const path = join(dataDir, STACK_FILE);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as StackFile;
  } catch {
    return null;
  }
}

function parsePorts(text: string): number[] {
  const ports = text.split(",").map((p) => Number(p.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new PodkitError("E_USAGE", `--relay-ports must be a comma-separated list of ports (got "${text}")`);
  }
  return ports;
}

function show(output: Output, info: StackInfo, json: boolean | undefined): void {
  if (json) printJson(output, stackJson(info));
  else output.out(stackScreen(info));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runForeground(flags: UpFlags, output: Output): Promise<void> {
  const dataDir = resolve(flags.data);
  const existing = readStackFile(dataDir);
  if (existing && existing.pid !== process.pid && isAlive(existing.pid)) {
    throw new ConflictError(
      `a Podkit stack already runs from ${dataDir} (pid ${existing.pid}); stop it with \`podkit down --data ${flags.data}\``,
    );
  }
  const logger = createLogger({ name: "podkit-up", level: process.env.PODKIT_LOG_LEVEL ?? "warn" });
  const stack = await startStack({
    dataDir,
    controlPlaneListen: flags.controlPlaneListen,
    s3Listen: flags.s3Listen,
    relayHost: flags.relayHost,
    relayPorts: parsePorts(flags.relayPorts),
    metricsListen: flags.metricsListen,
    simulate: flags.simulate ?? false,
    logger,
  });
  const stackFile: StackFile = { pid: process.pid, startedAt: new Date().toISOString(), info: stack.info };
  writePrivateFile(join(dataDir, STACK_FILE), `${JSON.stringify(stackFile, null, 2)}\n`);
  show(output, stack.info, flags.json);

  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (!flags.json) output.err(`podkit up: ${signal} received, stopping…`);
      void stack.close().finally(() => {
        rmSync(join(dataDir, STACK_FILE), { force: true });
        resolveStop();
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGHUP", () => stop("SIGHUP"));
  });
  // Everything is closed; do not wait for stray timers in libraries.
  process.exit(0);
}

async function runDetached(flags: UpFlags, argv: string[], output: Output): Promise<void> {
  const dataDir = resolve(flags.data);
  const existing = readStackFile(dataDir);
  if (existing && isAlive(existing.pid)) {
    throw new ConflictError(
      `a Podkit stack already runs from ${dataDir} (pid ${existing.pid}); stop it with \`podkit down --data ${flags.data}\``,
    );
  }
  rmSync(join(dataDir, STACK_FILE), { force: true });
  writePrivateFile(join(dataDir, LOG_FILE), "");
  const log = openSync(join(dataDir, LOG_FILE), "a");
  const [command, ...self] = selfArgv();
  const child = spawn(command, [...self, ...argv, "--data", dataDir], {
    detached: true,
    stdio: ["ignore", log, log],
    env: process.env,
  });
  closeSync(log);
  let exited: number | null = null;
  child.once("exit", (code) => {
    exited = code ?? 1;
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const file = readStackFile(dataDir);
    if (file && file.pid === child.pid) {
      child.unref();
      show(output, file.info, flags.json);
      if (!flags.json)
        output.out(
          `\nRunning in the background (pid ${child.pid}); stop it with: podkit down --data ${flags.data}`,
        );
      return;
    }
    if (exited !== null) {
      const tail = readFileSync(join(dataDir, LOG_FILE), "utf8").trim().split("\n").slice(-10).join("\n");
      throw new UnavailableError(
        `the background stack exited (code ${exited}) before it was ready:\n${tail}`,
      );
    }
    await sleep(200);
  }
  child.kill("SIGTERM");
  throw new UnavailableError(
    `the background stack was not ready within 120 s; see ${join(dataDir, LOG_FILE)}`,
  );
}

export function registerUpCommands(program: Command, output: Output): void {
  program
    .command("up")
    .description(
      "start the whole platform on this machine: control plane (SQLite) with dashboard, an enrolled agent, the S3 gateway over DATA/volumes and a transfer relay",
    )
    .option("--data <dir>", "data directory (database, tokens, volumes, agent state)", "./.podkit")
    .option("--json", "print the URLs and credentials as one JSON object once everything is ready")
    .option("--detach", "run in the background; stop with `podkit down`")
    .option("--control-plane-listen <host:port>", "control plane and dashboard address", "127.0.0.1:8080")
    .option("--s3-listen <host:port>", "S3 gateway address", "127.0.0.1:9000")
    .option("--relay-host <addr>", "transfer relay address", "127.0.0.1")
    .option("--relay-ports <ports>", "transfer relay ports, control port first", "9009,9010,9011,9012,9013")
    .option("--metrics-listen <host:port>", "agent Prometheus metrics address", "127.0.0.1:9101")
    .option("--simulate", "use the simulated GPU source even if nvidia-smi is present")
    .action(async (flags: UpFlags, command: Command) => {
      if (flags.detach) await runDetached(flags, ["up", ...command.args, ...rawFlags(command)], output);
      else await runForeground(flags, output);
    });

  program
    .command("down")
    .description("stop a stack started with `podkit up --detach`")
    .option("--data <dir>", "data directory the stack runs from", "./.podkit")
    .option("--json", "print the result as JSON")
    .action(async (flags: { data: string; json?: boolean }) => {
      const dataDir = resolve(flags.data);
      const file = readStackFile(dataDir);
      if (!file || !isAlive(file.pid)) {
        rmSync(join(dataDir, STACK_FILE), { force: true });
        throw new NotFoundError(`no Podkit stack is running from ${dataDir}`);
      }
      process.kill(file.pid, "SIGTERM");
      const deadline = Date.now() + 30_000;
      while (isAlive(file.pid) && Date.now() < deadline) await sleep(100);
      const forced = isAlive(file.pid);
      if (forced) process.kill(file.pid, "SIGKILL");
      rmSync(join(dataDir, STACK_FILE), { force: true });
      if (flags.json) printJson(output, { stopped: true, pid: file.pid, forced });
      else output.out(`Podkit stack (pid ${file.pid}) stopped${forced ? " (forced after 30 s)" : ""}.`);
    });
}

/** The options as the user typed them, to hand to the background process. */
function rawFlags(command: Command): string[] {
  const out: string[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    const value = command.getOptionValue(key);
    if (value === undefined || command.getOptionValueSource(key) === "default") continue;
    if (key === "detach" || key === "json" || key === "data") continue;
    if (value === true) out.push(option.long!);
    else out.push(option.long!, String(value));
  }
  return out;
}
