import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseGuide, substitute } from "./docs/guide.js";
import { startGuideNodes } from "./docs/nodes.js";
import { type GuideOptions, runGuide } from "./docs/session.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** Every guide, run block by block as a reader would (annotations: docs/README.md). */
const GUIDES = [
  "docs/host.md",
  "docs/operator.md",
  "docs/storage-user.md",
  "docs/renter.md",
  "docs/cluster-user.md",
  "README.md",
];

/**
 * What a guide needs besides the sandbox, and how to remove it. The cluster guide's session runs
 * in the machine's network namespace, beside two SSH nodes (test/docs/nodes.ts) it reaches over
 * the bridge; its hidden set-up copies their key and known_hosts from `files`.
 */
async function machinesFor(guide: string): Promise<{ options: GuideOptions; down: () => void }> {
  if (guide !== "docs/cluster-user.md") return { options: {}, down: () => {} };
  const nodes = await startGuideNodes(2);
  return { options: { hostNetwork: true, files: nodes.files }, down: nodes.down };
}

describe("the guides run as written", () => {
  for (const guide of GUIDES) {
    it(guide, async () => {
      const machines = await machinesFor(guide);
      const r = await runGuide(REPO, guide, machines.options).finally(machines.down);
      // The README's blocks are each run by the test its annotation names; a guide runs its own.
      if (guide.startsWith("docs/")) expect(r.ran).toBeGreaterThan(r.skipped.length);
    }, 180_000);
  }
});

describe("doc-test annotations", () => {
  it("attach to the block after them, and captured text replaces the placeholder", () => {
    const md = [
      "<!-- doc-test",
      "capture HOST_ID /hosts/(\\S+)",
      "exit 6",
      "-->",
      "```sh",
      "echo /hosts/h-1",
      "```",
      "```toml",
      "x = 1",
      "```",
      "<!-- doc-test: skip it downloads from the internet -->",
      "```bash",
      "curl … | sh",
      "```",
    ].join("\n");
    const [first, second, ...rest] = parseGuide(md, "g.md");
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ line: 5, exit: 6, text: "echo /hosts/h-1" });
    expect(first!.captures[0]!.pattern.exec("/hosts/h-1")![1]).toBe("h-1");
    expect(second).toMatchObject({ line: 12, skip: "it downloads from the internet" });
    expect(substitute("podkit hosts show HOST_ID", new Map([["HOST_ID", "h-1"]]))).toBe(
      "podkit hosts show h-1",
    );
  });

  it("refuse what they do not know, and a comment that is not before a block", () => {
    expect(() => parseGuide("<!-- doc-test: sometimes -->\n```sh\nls\n```", "g.md")).toThrow(
      /g\.md:1: unknown doc-test directive "sometimes"/,
    );
    expect(() => parseGuide("<!-- doc-test: background -->\ntext\n```sh\nls\n```", "g.md")).toThrow(
      /g\.md:2: a doc-test comment must come right before its block/,
    );
    expect(() => parseGuide("<!-- doc-test: skip -->\n```sh\nls\n```", "g.md")).toThrow(/needs a reason/);
  });
});
