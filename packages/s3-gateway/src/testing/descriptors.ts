import { readdirSync, readlinkSync } from "node:fs";

/** This process's open descriptors that name something under `prefix` (Linux: /proc/self/fd). */
export function descriptorsUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(prefix)) out.push(target);
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return out;
}
