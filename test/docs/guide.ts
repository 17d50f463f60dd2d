/**
 * A guide read as a test: its shell blocks in order, each with what a `<!-- doc-test … -->`
 * comment right before it says (the format is in docs/README.md). Pure: text in, blocks out.
 */

export interface Capture {
  /** The placeholder text as the guide writes it (HOST_ID, pke_…); replaced in later blocks. */
  name: string;
  pattern: RegExp;
}

export interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  /** The commands exactly as the guide shows them. */
  text: string;
  skip?: string;
  background: boolean;
  /** Ctrl-C the blocks running in the background before this one. */
  interrupt: boolean;
  waitPort?: number;
  waitLine?: RegExp;
  exit: number;
  expect: RegExp[];
  captures: Capture[];
  /** Text a reader replaces with their own (a domain), from this block on. */
  sets: Array<[string, string]>;
  /** Commands the guide leaves to someone else (the operator's token), run first and not shown. */
  before: string[];
  timeoutSeconds: number;
}

const SHELL_FENCES = new Set(["sh", "bash", "shell"]);
const DEFAULT_TIMEOUT_SECONDS = 60;

function regex(text: string, where: string): RegExp {
  try {
    return new RegExp(text, "m");
  } catch (err) {
    throw new Error(`${where}: not a regular expression: ${text} (${(err as Error).message})`);
  }
}

function splitFirst(text: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(text.trim());
  return m ? [m[1]!, m[2]!] : ["", ""];
}

function applyDirective(block: Block, directive: string, where: string): void {
  const [name, arg] = splitFirst(directive);
  const need = (what: string) => {
    if (!arg) throw new Error(`${where}: "${name}" needs ${what}`);
    return arg;
  };
  switch (name) {
    case "skip":
      block.skip = need("a reason");
      return;
    case "background":
      block.background = true;
      return;
    case "ctrl-c":
      block.interrupt = true;
      return;
    case "wait-port": {
      const port = Number(need("a port"));
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${where}: bad port ${arg}`);
      block.waitPort = port;
      return;
    }
    case "wait-line":
      block.waitLine = regex(need("a pattern"), where);
      return;
    case "exit":
      block.exit = Number(need("a number"));
      if (!Number.isInteger(block.exit)) throw new Error(`${where}: bad exit code ${arg}`);
      return;
    case "expect":
      block.expect.push(regex(need("a pattern"), where));
      return;
    case "capture": {
      const [placeholder, pattern] = splitFirst(need("a placeholder and a pattern"));
      if (!pattern) throw new Error(`${where}: capture ${placeholder} needs a pattern`);
      block.captures.push({ name: placeholder, pattern: regex(pattern, where) });
      return;
    }
    case "set": {
      const [text, value] = splitFirst(need("a text and its value"));
      if (!value) throw new Error(`${where}: set ${text} needs a value`);
      block.sets.push([text, value]);
      return;
    }
    case "before":
      block.before.push(need("commands"));
      return;
    case "timeout":
      block.timeoutSeconds = Number(need("seconds"));
      if (!(block.timeoutSeconds > 0)) throw new Error(`${where}: bad timeout ${arg}`);
      return;
    default:
      throw new Error(`${where}: unknown doc-test directive "${name}"`);
  }
}

/** Every sh/bash block of `markdown`, in order, with its directives; `file` names it in errors. */
export function parseGuide(markdown: string, file: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  let pending: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const comment = /^<!--\s*doc-test\b:?(.*)$/.exec(line.trim());
    if (comment) {
      const start = i + 1;
      let body = comment[1]!;
      while (!body.includes("-->")) {
        i++;
        if (i >= lines.length) throw new Error(`${file}:${start}: doc-test comment never closed`);
        body += `\n${lines[i]}`;
      }
      pending = body
        .slice(0, body.indexOf("-->"))
        .split("\n")
        .map((d) => d.trim())
        .filter(Boolean)
        .map((d) => `${start}\u0000${d}`);
      continue;
    }
    const fence = /^(`{3,})\s*([\w-]*)/.exec(line);
    if (!fence) {
      if (line.trim() && pending.length)
        throw new Error(`${file}:${i + 1}: a doc-test comment must come right before its block`);
      continue;
    }
    const [, ticks, lang] = fence;
    const end = lines.findIndex((l, j) => j > i && l.startsWith(ticks!) && l.trim() === ticks);
    if (end < 0) throw new Error(`${file}:${i + 1}: code block never closed`);
    if (SHELL_FENCES.has(lang!)) {
      const block: Block = {
        line: i + 1,
        text: lines.slice(i + 1, end).join("\n"),
        background: false,
        interrupt: false,
        exit: 0,
        expect: [],
        captures: [],
        sets: [],
        before: [],
        timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
      };
      for (const entry of pending) {
        const [at, directive] = entry.split("\u0000") as [string, string];
        applyDirective(block, directive, `${file}:${at}`);
      }
      blocks.push(block);
    } else if (pending.length) {
      throw new Error(`${file}:${i + 1}: doc-test comment before a ${lang || "plain"} block`);
    }
    pending = [];
    i = end;
  }
  return blocks;
}

/** Replace each placeholder with its value, longest first so HOST_ID_2 is not cut by HOST_ID. */
export function substitute(text: string, values: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [name, value] of [...values].sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(name).join(value);
  }
  return out;
}
