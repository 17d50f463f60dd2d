import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Vitest global setup: every temporary directory the suites and the programs they start create
 * (os.tmpdir(), mktemp) lands under one fresh directory, removed when the run ends. The suites
 * leave hundreds of MiB of transfers, volumes and client homes behind otherwise.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "podkit-e2e-"));
  // Like /tmp itself: services the suites start as other users (postgres, munge) work under it.
  chmodSync(root, 0o1777);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
