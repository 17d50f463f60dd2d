import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Set by the bundle's launcher (bundle/runtime.cjs): absent in the workspace build. */
interface BundleRuntime {
  sea: boolean;
  script: string;
}

/**
 * How to start this very CLI again, as an argv: the single executable alone, or node with the
 * script it runs (the bundle, or dist/main.js of the workspace build), by real path.
 */
export function selfArgv(): [string, ...string[]] {
  const bundle = (globalThis as { __podkitBundle?: BundleRuntime }).__podkitBundle;
  if (bundle?.sea) return [process.execPath];
  const script = bundle?.script ?? fileURLToPath(new URL("./main.js", import.meta.url));
  return [process.execPath, realpathSync(script)];
}
