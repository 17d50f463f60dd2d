import { join } from "node:path";
import type { XidEvent } from "@podkit/core";
import { KernelLogParser } from "../parse/kernel-log.js";
import { loadXidCatalog } from "../parse/xid-catalog.js";
import { stableMessageId } from "../report/ids.js";
import { readJsonFile, writeFileAtomic } from "../state-files.js";
import { classifyKernelError } from "../xid.js";
import type { Collector, CollectorContext } from "./collector.js";
import { type KernelLine, KernelLogFollower } from "./kernel-log.js";
import { kernelLogMetrics } from "./kernel-log-metrics.js";

const CURSOR_FILE = "kernel-log-cursor.json";

interface Cursor {
  bootId: string;
  path: string;
  stream: string;
  position: number;
}

/** NVIDIA errors the kernel logged since the last run; `reportId` is null for one an earlier run of this boot already reported. */
export interface KernelLogReading {
  errors: Array<{ xid: XidEvent; reportId: string | null }>;
}

/**
 * The kernel log, followed: lines are buffered as they come and each run classifies the new ones
 * (NVIDIA's catalogue decides the action). A cursor in the state directory makes each record of
 * this boot reported once, across agent restarts.
 */
export function kernelLogCollector(c: CollectorContext): Collector<KernelLogReading> | null {
  if (!c.kmsgPath) return null;
  const o = { ...c, path: c.kmsgPath };
  const parser = new KernelLogParser();
  const catalog = loadXidCatalog();
  const cursorFile = join(o.stateDir, CURSOR_FILE);
  const saved = readJsonFile<Cursor>(cursorFile);
  let cursor = saved && saved.bootId === o.bootId && saved.path === o.path ? saved : null;
  let pending: KernelLine[] = [];
  const follower = new KernelLogFollower({
    path: o.path,
    onLines: (lines) => pending.push(...lines),
    onError: (err) => o.logger.warn({ err: err.message, path: o.path }, "cannot read the kernel log"),
  });

  const classify = (lines: KernelLine[]): KernelLogReading => {
    const busToIndex = o.gpuIndexByBusId();
    const errors: KernelLogReading["errors"] = [];
    let newest = cursor;
    for (const line of lines) {
      for (const err of parser.feed(line.text)) {
        const xid = classifyKernelError(err, catalog, busToIndex, new Date().toISOString());
        // Report each record once: skip what an earlier run of this boot already put in the outbox.
        const cut = line.position.lastIndexOf(":");
        const stream = line.position.slice(0, cut);
        const position = Number(line.position.slice(cut + 1));
        const numbered = Number.isFinite(position);
        if (numbered && cursor && cursor.stream === stream && position <= cursor.position) {
          errors.push({ xid, reportId: null });
          continue;
        }
        errors.push({ xid, reportId: stableMessageId("xid", o.bootId, o.path, line.position) });
        if (numbered && (!newest || newest.stream !== stream || position > newest.position)) {
          newest = { bootId: o.bootId, path: o.path, stream, position };
        }
      }
    }
    if (newest && newest !== cursor) {
      cursor = newest;
      writeFileAtomic(cursorFile, JSON.stringify(newest));
    }
    return { errors };
  };

  return {
    name: "kernel-log",
    intervalMs: 250,
    budgetMs: 5_000,
    async collect() {
      const lines = pending;
      pending = [];
      return classify(lines);
    },
    succeeded: () => true,
    metrics: kernelLogMetrics,
    start: () => follower.start(),
    stop: () => follower.close(),
  };
}
