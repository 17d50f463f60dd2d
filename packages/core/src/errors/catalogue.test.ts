import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  codeForHttpStatus,
  ERROR_CATALOGUE,
  type ErrorCode,
  EXIT_CODE_TABLE,
  EXIT_CODES,
  EXIT_STATUSES,
  exitCodeOf,
  httpStatusOf,
  isErrorCode,
} from "./catalogue.js";
import { AuthError, ConfigError, PodkitError, ValidationError } from "./podkit-error.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const CATALOGUE = fileURLToPath(new URL("./catalogue.ts", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** TypeScript sources and READMEs of every package and app (build output and dependencies aside). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    if (f === "node_modules" || f === "dist" || f.startsWith(".")) return [];
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|md)$/.test(p) ? [p] : [];
  });
}

function workspaceFiles(): string[] {
  return ["packages", "apps"].flatMap((top) =>
    readdirSync(join(ROOT, top)).flatMap((pkg) => sources(join(ROOT, top, pkg))),
  );
}

describe("error catalogue", () => {
  it("gives every code an exit status, a one-line meaning and at most one HTTP status", () => {
    for (const code of codes) {
      const entry: { exit: string; meaning: string; http?: number } = ERROR_CATALOGUE[code];
      expect(code).toMatch(/^E_[A-Z][A-Z0-9_]*$/);
      expect(Object.keys(EXIT_STATUSES)).toContain(entry.exit);
      expect(Number.isInteger(exitCodeOf(code))).toBe(true);
      expect(entry.meaning.length).toBeGreaterThan(0);
      expect(entry.meaning).not.toContain("\n");
      if (entry.http !== undefined) expect(entry.http).toBeGreaterThanOrEqual(400);
    }
  });

  it("holds each code once", () => {
    const text = readFileSync(CATALOGUE, "utf8");
    const declared = [...text.matchAll(/^ {2}(E_[A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(declared).toEqual(codes);
    expect(new Set(declared).size).toBe(declared.length);
  });

  it("lists every exit status once, in order, with a meaning", () => {
    const exits = EXIT_CODE_TABLE.map((r) => r.exit);
    expect(exits).toEqual([0, 1, 2, 4, 5, 6, 7, 124, 130, 255]);
    expect(new Set(exits).size).toBe(exits.length);
    for (const row of EXIT_CODE_TABLE) expect(row.meaning.length).toBeGreaterThan(0);
    expect(EXIT_CODES).toMatchObject({ ok: 0, usage: 2, timeout: 124, interrupted: 130 });
  });

  it("keeps the exit and HTTP statuses users have always seen", () => {
    expect(new ValidationError("flag", [{ path: "", message: "bad" }]).exitCode).toBe(2);
    expect(new ConfigError("bad").exitCode).toBe(2);
    expect(new AuthError("no").exitCode).toBe(5);
    expect(new PodkitError("E_TIMEOUT", "late").exitCode).toBe(124);
    expect(new PodkitError("E_NODE_LOST", "gone").exitCode).toBe(255);
    expect(new PodkitError("E_NODE_FAILED", "node-1 exited with 3", { exitCode: 3 }).exitCode).toBe(3);
    expect(new PodkitError("E_NODE_FAILED", "node-1 failed").exitCode).toBe(1);
    expect(httpStatusOf("E_RULE")).toBe(422);
    expect(new PodkitError("E_UNAVAILABLE", "away").httpStatus).toBe(503);
    expect(httpStatusOf("E_PROTOCOL")).toBe(500);
    expect(codeForHttpStatus(404)).toBe("E_NOT_FOUND");
    expect(codeForHttpStatus(400)).toBe("E_INVALID_INPUT");
    expect(codeForHttpStatus(418)).toBeUndefined();
    expect(isErrorCode("E_AUTH")).toBe(true);
    expect(isErrorCode("E_NOPE")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });

  it("is the only place codes come from: every E_* code written in a source or README is catalogued, and every catalogued code is used", () => {
    const written = new Map<string, string>();
    for (const file of workspaceFiles()) {
      if (file === CATALOGUE || file === SELF) continue;
      for (const m of readFileSync(file, "utf8").matchAll(/\bE_[A-Z][A-Z0-9_]*\b/g))
        written.set(m[0], relative(ROOT, file));
    }
    const unknown = [...written].filter(([code]) => !isErrorCode(code));
    expect(unknown).toEqual([]);
    expect(codes.filter((code) => !written.has(code))).toEqual([]);
  });
});
