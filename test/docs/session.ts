import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Block, parseGuide, substitute } from "./guide.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SANDBOX = join(HERE, "sandbox.sh");
const CLI = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
/** The checkout: the sandbox keeps it reachable at its own path (a clone may lie under /tmp). */
const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const FAKE_SMI = fileURLToPath(new URL("../agent/fake-nvidia-smi", import.meta.url));
const SMI_CAPTURE = fileURLToPath(
  new URL("../testdata/agent/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt", import.meta.url),
);

/** One bash session inside its own namespaces (sandbox.sh), fed one block at a time. */
class Session {
  private readonly proc: ChildProcess;
  private readonly waiters = new Map<string, (rc: number) => void>();
  private stderr = "";
  private exited: string | null = null;
  private step = 0;

  /** `hostNetwork`: the machine's own network namespace, for a guide that talks to other machines. */
  constructor(
    readonly out: string,
    hostNetwork = false,
  ) {
    this.proc = spawn(
      "unshare",
      [
        "--mount",
        ...(hostNetwork ? [] : ["--net"]),
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
        "--",
        "bash",
        SANDBOX,
      ],
      {
        env: {
          PATH: process.env.PATH,
          PKDOC_OUT: out,
          PKDOC_NODE: process.execPath,
          PKDOC_CLI: CLI,
          PKDOC_REPO: REPO,
          PKDOC_FAKE_SMI: FAKE_SMI,
          PKDOC_SMI_CAPTURE: SMI_CAPTURE,
        },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    this.proc.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      const m = /^__pkdoc__ (\S+) (\d+)$/.exec(line);
      if (m) this.waiters.get(m[1]!)?.(Number(m[2]));
    });
    this.proc.once("exit", (code, signal) => {
      this.exited = `the session's shell ended (${signal ?? `exit ${code}`}): ${this.stderr.slice(-2000)}`;
      for (const w of this.waiters.values()) w(-1);
    });
  }

  private await(id: string, timeoutMs: number): Promise<number | "timeout"> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        resolve("timeout");
      }, timeoutMs);
      this.waiters.set(id, (rc) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        resolve(rc);
      });
      if (this.exited) resolve(-1);
    });
  }

  ready(): Promise<number | "timeout"> {
    return this.await("ready", 30_000);
  }

  /** Ctrl-C every background block, as a reader stops the servers of the terminals beside. */
  async interrupt(): Promise<void> {
    const id = String(++this.step);
    const done = this.await(id, 30_000);
    this.proc.stdin!.write(`__pkdoc_interrupt ${id}\n`);
    await done;
  }

  /** Run `text` in the session (or start it in the background); its status and output. */
  async run(
    text: string,
    options: { background?: boolean; timeoutSeconds: number },
  ): Promise<{ id: string; rc: number | "timeout"; output: () => string }> {
    const id = String(++this.step);
    writeFileSync(join(this.out, `${id}.sh`), `${text}\n`);
    const done = this.await(id, options.timeoutSeconds * 1000);
    this.proc.stdin!.write(`${options.background ? "__pkdoc_bg" : "__pkdoc_fg"} ${id}\n`);
    const rc = await done;
    return { id, rc, output: () => this.output(id) };
  }

  /** The status of a background block that has ended, or null while it runs. */
  ended(id: string): string | null {
    try {
      return readFileSync(join(this.out, `${id}.exit`), "utf8").trim();
    } catch {
      return null;
    }
  }

  output(id: string): string {
    try {
      return readFileSync(join(this.out, `${id}.out`), "utf8");
    } catch {
      return "";
    }
  }

  died(): string | null {
    return this.exited;
  }

  close(): void {
    if (this.exited === null) this.proc.kill("SIGKILL");
  }
}

const tail = (text: string, n = 4000) => (text.length > n ? `…${text.slice(-n)}` : text);

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

export interface GuideOptions {
  /** Run in the machine's own network namespace (still a private mount and PID namespace). */
  hostNetwork?: boolean;
  /** Files the hidden set-up can copy from `$out` (the directory of the block files). */
  files?: Record<string, string>;
}

export interface GuideRun {
  ran: number;
  skipped: Array<{ line: number; reason: string }>;
}

/**
 * Run every shell block of `file` (a path relative to the repository) in order in one fresh
 * session. Throws on the first block that does not do what it should, naming the guide, the
 * block's line and its output.
 */
export async function runGuide(repo: string, file: string, options: GuideOptions = {}): Promise<GuideRun> {
  const blocks = parseGuide(readFileSync(join(repo, file), "utf8"), file);
  const out = mkdtempSync(join(tmpdir(), "pkdoc-"));
  for (const [name, text] of Object.entries(options.files ?? {}))
    writeFileSync(join(out, name), text, { mode: 0o600 });
  const session = new Session(out, options.hostNetwork);
  const values = new Map<string, string>();
  const background: Array<{ block: Block; id: string }> = [];
  const result: GuideRun = { ran: 0, skipped: [] };
  const fail = (block: Block, what: string, output: string): never => {
    const others = background
      .filter((b) => b.block !== block)
      .map((b) => `--- background block at line ${b.block.line} ---\n${tail(session.output(b.id), 1500)}`);
    throw new Error(
      [`${file}:${block.line}: ${what}`, "--- commands ---", substitute(block.text, values)]
        .concat("--- output ---", tail(output) || "(none)", ...others)
        .join("\n"),
    );
  };
  try {
    if ((await session.ready()) !== 0)
      throw new Error(`${file}: the sandbox did not start: ${session.died()}`);
    for (const block of blocks) {
      if (block.skip) {
        result.skipped.push({ line: block.line, reason: block.skip });
        continue;
      }
      for (const [text, value] of block.sets) values.set(text, value);
      if (block.interrupt) {
        await session.interrupt();
        background.length = 0;
      }
      let output = "";
      const capture = (required: boolean) => {
        for (const c of block.captures) {
          const m = c.pattern.exec(output);
          if (m) values.set(c.name, m[1] ?? m[0]);
          else if (required) fail(block, `nothing to capture for ${c.name} (${c.pattern})`, output);
        }
      };
      for (const hidden of block.before) {
        const r = await session.run(substitute(hidden, values), { timeoutSeconds: block.timeoutSeconds });
        output += r.output();
        if (r.rc !== 0) fail(block, `its set-up (${hidden}) ended with ${r.rc}`, output);
        // What the set-up printed (the operator's token) is what later set-up and the block use.
        capture(false);
      }
      const text = substitute(block.text, values);
      const r = await session.run(text, {
        background: block.background,
        timeoutSeconds: block.timeoutSeconds,
      });
      if (block.background) {
        background.push({ block, id: r.id });
        const port = block.waitPort;
        if (port !== undefined) {
          const probe = `(for _ in $(seq 1 ${block.timeoutSeconds * 5}); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && exit 0; sleep 0.2; done; exit 1)`;
          const w = await session.run(probe, { timeoutSeconds: block.timeoutSeconds + 5 });
          if (w.rc !== 0)
            fail(block, `nothing listens on port ${port} after ${block.timeoutSeconds}s`, r.output());
        }
        const line = block.waitLine;
        if (line) {
          const seen = () => line.test(r.output()) || session.ended(r.id) !== null;
          await waitUntil(seen, block.timeoutSeconds * 1000);
          if (!line.test(r.output())) {
            const ended = session.ended(r.id);
            fail(
              block,
              ended === null
                ? `no line matching ${line} after ${block.timeoutSeconds}s`
                : `it ended (status ${ended}) before a line matching ${line}`,
              r.output(),
            );
          }
        }
      } else if (r.rc === "timeout") {
        fail(block, `still running after ${block.timeoutSeconds}s`, r.output());
      } else if (r.rc !== block.exit) {
        fail(block, `exit status ${r.rc}, expected ${block.exit}`, output + r.output());
      }
      output += r.output();
      for (const expected of block.expect) {
        // A placeholder in the pattern stands for its value, literally.
        const escaped = new Map([...values].map(([k, v]) => [k, v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")]));
        const pattern = new RegExp(substitute(expected.source, escaped), expected.flags);
        if (!pattern.test(output)) fail(block, `output does not match ${pattern}`, output);
      }
      capture(true);
      result.ran++;
    }
    return result;
  } finally {
    session.close();
  }
}
