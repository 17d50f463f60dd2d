import { readFileSync, statSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
import {
  formatBytes,
  PodkitError,
  parseWith,
  type TransferEvent,
  TransferProtocolSchema,
  ValidationError,
} from "@podkit/core";
import type { ReceiveOffer, RelayEvent } from "@podkit/transfer";
import { DEFAULT_RELAY_PASSWORD, DEFAULT_RELAY_PORTS } from "@podkit/transfer/defaults";
import { type Command, Option } from "commander";
import { z } from "zod";
import { type ConfigSources, commandConfig, givenFlags } from "../config.js";
import type { Output } from "../output.js";
import { type ProgressMode, TransferProgress } from "./transfer-progress.js";

interface CommonOptions {
  relay?: string;
  relayPass?: string;
  protocol: string;
  json?: boolean;
}

/** The transfer code loads when a command runs, not for its --help. */
const loadTransfer = () => import("@podkit/transfer");

function progressMode(json: boolean | undefined): ProgressMode {
  if (json) return "json";
  return process.stderr.isTTY ? "tty" : "plain";
}

/** Ctrl-C cancels the transfer cleanly (exit 130) instead of killing it mid-write. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/**
 * Questions answered on stdin, a terminal or a pipe (like croc). One reader serves every question, so
 * piped answers (`printf 'y\\ny\\n' | podkit receive …`) are not lost between them; a closed or empty
 * stdin answers "" (that is: no).
 */
class Prompter {
  private rl: Interface | null = null;
  private readonly lines: string[] = [];
  private pending: ((line: string) => void) | null = null;
  private ended = false;

  async ask(question: string): Promise<string> {
    const rl = this.open();
    rl.setPrompt(question);
    rl.prompt();
    const line =
      this.lines.shift() ?? (this.ended ? "" : await new Promise<string>((r) => (this.pending = r)));
    return line.trim();
  }

  close(): void {
    this.rl?.close();
  }

  private open(): Interface {
    if (this.rl) return this.rl;
    const rl = createInterface({
      input: process.stdin,
      output: process.stderr,
      terminal: Boolean(process.stdin.isTTY),
    });
    const deliver = (line: string): void => {
      const pending = this.pending;
      this.pending = null;
      if (pending) pending(line);
      else this.lines.push(line);
    };
    rl.on("line", deliver);
    rl.once("close", () => {
      this.ended = true;
      deliver("");
    });
    this.rl = rl;
    return rl;
  }
}

const yes = (answer: string): boolean => /^y(es)?$/i.test(answer);

function describeOffer(offer: ReceiveOffer): string {
  const lines = offer.files
    .slice(0, 20)
    .map((f) => `  ${f.path}${f.symlink ? ` -> ${f.symlink}` : ` (${formatBytes(f.size)})`}`);
  if (offer.files.length > 20) lines.push(`  … and ${offer.files.length - 20} more`);
  for (const d of offer.emptyFolders.slice(0, 5)) lines.push(`  ${d}/ (empty folder)`);
  const head = `Receiving ${offer.files.length} file(s), ${formatBytes(offer.totalBytes)} in total:`;
  const conflicts = offer.conflicts.length
    ? `\nAlready here with other content: ${offer.conflicts.join(", ")}`
    : "";
  return `${head}\n${lines.join("\n")}${conflicts}`;
}

/**
 * croc's relay password rule: a value naming a readable file means that file's contents, which keeps
 * the password out of `ps`. A value that looks like a path but names no file is used as it is, with a
 * warning, so a typo does not silently become the password.
 */
function relayPassword(value: string, flag: string, output: Output): string {
  try {
    if (statSync(value).isFile()) return readFileSync(value, "utf8").trim();
  } catch {
    // not a file: the value itself is the password
  }
  if (value.includes("/"))
    output.err(`podkit: warning: ${flag} ${value}: no such file, so this text itself is the password`);
  return value;
}

const RELAY_PASS_HELP = "relay password, or a file holding it (keeps it out of ps)";

/** The flags of `relay` as commander hands them over. */
interface RelayFlags {
  config?: string;
  host?: string;
  ports?: string;
  relayPass?: string;
  /** The relay's first spelling of --relay-pass (croc's relay says --pass), kept for scripts. */
  pass?: string;
  json?: boolean;
}

/** `podkit relay` settings: one key per flag, `[relay]` in the file. */
export const RelayConfigSchema = z.object({
  host: z.string().default("0.0.0.0"),
  ports: z.union([z.string(), z.array(z.number())]).default(DEFAULT_RELAY_PORTS.join(",")),
  pass: z.string().default(DEFAULT_RELAY_PASSWORD),
});

const silent: Output = { out: () => undefined, err: () => undefined };

/** What `relay` starts with: flags > PODKIT_RELAY_* (and CROC_PASS) > `[relay]` in the file > defaults. */
export function relayConfig(
  flags: Omit<RelayFlags, "config" | "json">,
  sources: ConfigSources = {},
  output: Output = silent,
): { host: string; ports: number[]; pass: string } {
  const { relayPass, pass: oldPass, ...rest } = flags;
  const pass = relayPass ?? oldPass;
  const c = commandConfig(
    RelayConfigSchema,
    { section: "relay", what: "relay configuration", envAliases: { pass: ["CROC_PASS"] } },
    pass === undefined ? rest : { ...rest, pass },
    sources,
  ).config;
  const ports = typeof c.ports === "string" ? c.ports.split(",").map((p) => Number(p.trim())) : c.ports;
  if (ports.length < 2 || ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new ValidationError("--ports", [
      { path: "--ports", message: "give at least two ports, e.g. 9009,9010,9011,9012,9013" },
    ]);
  }
  const from =
    relayPass !== undefined ? "--relay-pass" : oldPass !== undefined ? "--pass" : "the relay password";
  return { host: c.host, ports, pass: relayPassword(c.pass, from, output) };
}

export function registerTransferCommands(program: Command, output: Output): void {
  // Long but flat: one commander block per verb (its options and a short handler), in `--help` order.
  program
    .command("send")
    .description(
      "send files or folders to another machine with a one-time code (works with runpodctl and croc)",
    )
    .argument("<path...>", "files, folders, or - for stdin")
    .option("--code <code>", "code phrase to use (default: a fresh one; CROC_SECRET also sets it)")
    .option("--relay <host:port>", "relay to use (default: runpodctl's relays and croc's public relay)")
    .option("--relay-pass <pass>", `${RELAY_PASS_HELP} (default pass123 on a custom relay)`)
    .option(
      "--protocol <protocol>",
      "peer protocol: auto, a (runpodctl, croc ≤ 9.6.15) or b (croc 10)",
      "auto",
    )
    .option("--no-compress", "do not deflate chunks")
    .option("--zip", "zip folders before sending (runpodctl's way; empty folders are lost)")
    .option(
      "--local",
      "also offer this machine's own addresses, so a receiver that reaches them skips the relay (default)",
    )
    .option("--no-local", "send through the relay only")
    .option("--json", "print JSON events, one per line")
    .action(
      async (
        paths: string[],
        opts: CommonOptions & { code?: string; compress: boolean; zip?: boolean; local?: boolean },
      ) => {
        const protocol = parseWith(TransferProtocolSchema, opts.protocol, "--protocol");
        const progress = new TransferProgress(progressMode(opts.json), output, "sending");
        const { signal, dispose } = interruptSignal();
        try {
          await (await loadTransfer()).send({
            paths,
            code: process.env.CROC_SECRET || opts.code,
            relay: opts.relay,
            relayPass:
              opts.relayPass === undefined
                ? undefined
                : relayPassword(opts.relayPass, "--relay-pass", output),
            protocol,
            noCompress: !opts.compress,
            zip: opts.zip,
            local: opts.local,
            signal,
            onEvent: (event: TransferEvent) => {
              if (event.type === "code" && !opts.json) {
                // runpodctl's layout: the code alone on stdout, the instructions on stderr.
                output.err(
                  `Sending ${paths.length === 1 ? `'${paths[0]}'` : `${paths.length} items`}\nCode is: ${event.code}\nOn the other computer run\n\n${event.receiveCommand}\n`,
                );
                output.out(event.code);
                return;
              }
              progress.handle(event);
            },
          });
        } finally {
          dispose();
        }
      },
    );

  program
    .command("receive")
    .description("receive files sent with podkit send, runpodctl send or croc send")
    .argument("[code]", "the code phrase (or set CROC_SECRET, or type it when asked)")
    .option("--out <dir>", "folder to receive into", ".")
    .option("--relay <host:port>", "relay to use (default: from the code, or croc's public relay)")
    .option("--relay-pass <pass>", RELAY_PASS_HELP)
    .option("--protocol <protocol>", "peer protocol: auto, a or b", "auto")
    .addOption(
      new Option("--curve <curve>", "PAKE curve to ask the sender for (croc's --curve)")
        .choices(["p256", "p384", "p521", "siec"])
        .default("p256"),
    )
    .option("--yes", "accept without asking")
    .option("--overwrite", "replace existing files whose content differs")
    .option("--no-local", "do not try the sender's own addresses; receive through the relay only")
    .option("--json", "print JSON events, one per line")
    .action(
      async (
        codeArg: string | undefined,
        opts: CommonOptions & {
          out: string;
          curve: string;
          yes?: boolean;
          overwrite?: boolean;
          local: boolean;
        },
      ) => {
        const protocol = parseWith(TransferProtocolSchema, opts.protocol, "--protocol");
        const prompter = new Prompter();
        let code = codeArg ?? process.env.CROC_SECRET ?? "";
        if (!code && process.stdin.isTTY) code = await prompter.ask("Enter receive code: ");
        if (!code)
          throw new ValidationError("arguments", [
            { path: "code", message: "give the code phrase as an argument or in CROC_SECRET" },
          ]);
        const progress = new TransferProgress(progressMode(opts.json), output);
        const { signal, dispose } = interruptSignal();
        try {
          await (await loadTransfer()).receive({
            code,
            out: opts.out,
            relay: opts.relay,
            relayPass:
              opts.relayPass === undefined
                ? undefined
                : relayPassword(opts.relayPass, "--relay-pass", output),
            protocol,
            curve: opts.curve,
            overwrite: opts.overwrite,
            local: opts.local,
            signal,
            onEvent: (event) => {
              if (event.type === "waiting" && !opts.json) {
                output.err(
                  `waiting for a sender with code ${code} on relay ${event.relay}` +
                    `${event.seconds ? ` (giving up after ${event.seconds} s)` : ""}; check the code if nothing happens`,
                );
                return;
              }
              progress.handle(event);
            },
            confirm: async (offer) => {
              if (!opts.json) output.err(describeOffer(offer));
              return opts.yes || yes(await prompter.ask("Accept? (y/N) "));
            },
            // --yes accepts the offer; replacing files is asked on its own (as croc does) or --overwrite.
            confirmOverwrite: async (conflicts) =>
              yes(
                await prompter.ask(
                  `Replace the ${conflicts.length} file(s) already here with other content? (y/N) (use --overwrite to omit) `,
                ),
              ),
          });
        } finally {
          prompter.close();
          dispose();
        }
      },
    );

  program
    .command("relay")
    .description("run a relay that croc 9, croc 10, runpodctl and podkit clients can all use")
    .option(
      "--config <file>",
      "TOML file, table [relay] (default ~/.config/podkit/config.toml, /etc/podkit/config.toml)",
    )
    .option("--host <addr>", "address to listen on (default 0.0.0.0)")
    .option(
      "--ports <list>",
      `comma-separated ports: the first is the control port (default ${DEFAULT_RELAY_PORTS.join(",")})`,
    )
    .option("--relay-pass <pass>", `${RELAY_PASS_HELP} (also CROC_PASS; default pass123)`)
    // The relay's first spelling (croc's relay says --pass); kept for scripts, the clients' name is shown.
    .addOption(new Option("--pass <pass>").hideHelp())
    .option("--json", "print the listening address as JSON, then one JSON line per finished room")
    .action(async (opts: RelayFlags, cmd: Command) => {
      const { host, ports, pass } = relayConfig(givenFlags(cmd), { configFile: opts.config }, output);
      // With --json, every finished room is one more line: how many bytes went through it.
      const onEvent = opts.json
        ? (event: RelayEvent) => {
            if (event.type === "closed") output.out(JSON.stringify(event));
          }
        : undefined;
      const relay = await (await loadTransfer())
        .startRelay({ host, ports, pass, onEvent })
        .catch((err: Error) => {
          throw new PodkitError(
            "E_LISTEN",
            `could not listen on ${host} ports ${ports.join(",")}: ${err.message}`,
          );
        });
      if (opts.json) output.out(JSON.stringify({ address: relay.address, ports: relay.ports }));
      else output.out(`relay listening on ${relay.address} (data ports ${relay.ports.slice(1).join(",")})`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await relay.close();
    });
}
