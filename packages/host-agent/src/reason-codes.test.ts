import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HEALTH_REASON_CODES, HEALTH_REASON_FAMILIES } from "./reason-codes.js";

const DOCS = fileURLToPath(new URL("../../../docs/host.md", import.meta.url));
const SRC = fileURLToPath(new URL(".", import.meta.url));

/** The codes in the first column of docs/host.md's "Health reasons" table. */
function documentedCodes(): string[] {
  const text = readFileSync(DOCS, "utf8");
  const section = text.slice(text.indexOf("## 6. Health reasons"));
  const table = section.split("\n").filter((l) => l.startsWith("| `"));
  return table.flatMap((row) =>
    [...(row.split("|")[1] ?? "").matchAll(/`([A-Z][A-Z0-9_<>n]*)`/g)].map((m) => m[1]!),
  );
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

describe("health reason codes: the docs and the code agree", () => {
  it("docs/host.md §6 lists exactly the codes the agent can emit", () => {
    const documented = documentedCodes();
    expect(documented.length).toBeGreaterThan(0);
    expect([...new Set(documented)].sort()).toEqual(
      [...HEALTH_REASON_CODES, ...HEALTH_REASON_FAMILIES].sort(),
    );
  });

  it("every reason code written in the sources is in the list, and every listed code is written somewhere", () => {
    const written = new Set<string>();
    for (const file of sources(SRC)) {
      if (file.endsWith("reason-codes.ts")) continue;
      for (const m of readFileSync(file, "utf8").matchAll(/\bcode: "([A-Z][A-Z0-9_]+)"/g)) written.add(m[1]!);
    }
    expect([...written].sort()).toEqual([...HEALTH_REASON_CODES].sort());
  });
});
