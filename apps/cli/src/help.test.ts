import { EXIT_CODE_TABLE, EXIT_CODES } from "@podkit/core";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { commandPath, EXAMPLES } from "./help.js";
import type { Output } from "./output.js";
import { createProgram, runCli } from "./program.js";

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  const add = (s: string): void => {
    lines.push(s);
  };
  return { out: add, err: add, text: () => `${lines.join("\n")}\n` };
}

async function help(path: string): Promise<string> {
  const output = capture();
  expect(await runCli([...path.split(" ").filter(Boolean), "--help"], output)).toBe(0);
  return output.text();
}

function allCommands(program: Command): string[] {
  const paths: string[] = [];
  const visit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      paths.push(commandPath(sub));
      visit(sub);
    }
  };
  visit(program);
  return paths;
}

describe("help text", { timeout: 60_000 }, () => {
  it("every command's --help ends with at least one example", async () => {
    const paths = allCommands(await createProgram(capture()));
    expect(paths.length).toBeGreaterThan(30);
    const without: string[] = [];
    for (const path of paths) {
      const text = await help(path);
      const examples = /\nExamples:\n((?: {2}.+\n?)+)/.exec(text)?.[1] ?? "";
      if (!examples.trim()) without.push(path);
    }
    expect(without).toEqual([]);
    // No example for a command that does not exist (a renamed command would leave one behind).
    expect(Object.keys(EXAMPLES).filter((k) => !paths.includes(k))).toEqual([]);
  });

  it("podkit --help lists every exit code, 124 and 255 included, in one block", async () => {
    const text = await help("");
    const block = text.slice(text.indexOf("Exit codes:"));
    for (const code of Object.values(EXIT_CODES)) expect(block).toMatch(new RegExp(`\\n +${code}  \\S`));
    for (const { exit, meaning } of EXIT_CODE_TABLE) expect(block).toContain(`${exit}  ${meaning}`);
    expect(block).toMatch(/\n {2}124 {2}a deadline passed/);
  });

  it("hosts enroll points a new host to agent install", async () => {
    const text = await help("hosts enroll");
    expect(text).toContain("podkit agent install");
    expect(text).not.toContain("agent run --token");
  });
});
