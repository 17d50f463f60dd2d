import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The first executable called `name` in PATH (as a shell would run it), or null. */
export function findOnPath(name: string, path: string | undefined = process.env.PATH): string | null {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here, or not executable
    }
  }
  return null;
}
