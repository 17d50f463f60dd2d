import { normalizePciBusId } from "./values.js";

/** One NVIDIA error found in the kernel log, before classification. */
export interface KernelGpuError {
  kind: "xid" | "sxid" | "fallen-off-bus";
  /** XID/SXid number; 79 for the probe-time "fallen off the bus" message that has none. */
  code: number;
  pciBusId: string | null;
  pid: number | null;
  processName: string | null;
  /** `GPU-I:05` / `GPU-CI:01` attribution on MIG GPUs, as "GI 5" / "GI 5 CI 1". */
  migInstance: string | null;
  /** For XID 45: the XID that caused it. */
  causedBy: number | null;
  message: string;
  raw: string;
  /** Timestamp printed by dmesg/journald if any (as text), kmsg sequence if any. */
  printedTime: string | null;
  kmsgSeq: number | null;
}

/**
 * The message part of a kernel log line in any of the formats hosts have: raw `/dev/kmsg`
 * (`6,3964,206764307,-;msg`), `dmesg` (`[ 1843.308145] msg`), `dmesg --ctime`
 * (`[Sun Feb 23 16:24:18 2025] msg`), `dmesg --decode --time-format iso`
 * (`kern  :warn  : 2025-01-21T04:41:44,287197+00:00 msg`) and journald (`… kernel: msg`).
 */
export function splitKernelLine(line: string): { time: string | null; seq: number | null; msg: string } {
  const kmsg = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/.exec(line);
  if (kmsg) return { time: kmsg[3]!, seq: Number(kmsg[2]), msg: kmsg[4]! };
  const bracket = /^\s*\[([^\]]+)\]\s?(.*)$/.exec(line);
  if (bracket) return { time: bracket[1]!.trim(), seq: null, msg: bracket[2]! };
  const iso = /^\w+\s*:\s*\w+\s*:\s*(\d{4}-\d\d-\d\dT[\d:,.+-]+)\s(.*)$/.exec(line);
  if (iso) return { time: iso[1]!, seq: null, msg: iso[2]! };
  const journal = /^(.*?)kernel:\s(.*)$/.exec(line);
  if (journal) return { time: journal[1]!.trim() || null, seq: null, msg: journal[2]! };
  return { time: null, seq: null, msg: line.trim() };
}

const XID_RE =
  /NVRM: Xid \((PCI:[0-9a-fA-F:.]+)((?: GPU-I:\d+)?(?: GPU-CI:\d+)?)\): (\d+), (?:pid=('?[^,]*'?), )?(?:name=([^,]*), )?(.*)$/;
const SXID_RE = /(nvidia-nvswitch\d+): SXid \((PCI:[0-9a-fA-F:.]+)\): (\d+), (.*)$/;

/**
 * A stateful line parser: feed lines in order, get errors out. Stateful because the probe-time
 * "fallen off the bus" message spans three lines and carries no XID number.
 */
export class KernelLogParser {
  private pendingFallen: {
    busId: string | null;
    raw: string[];
    time: string | null;
    seq: number | null;
  } | null = null;

  feed(line: string): KernelGpuError[] {
    const out: KernelGpuError[] = [];
    const { time, seq, msg } = splitKernelLine(line);
    if (this.pendingFallen) {
      this.pendingFallen.raw.push(line.trim());
      if (/fallen off the bus and is not responding/.test(msg)) {
        const p = this.pendingFallen;
        this.pendingFallen = null;
        out.push({
          kind: "fallen-off-bus",
          code: 79,
          pciBusId: p.busId,
          pid: null,
          processName: null,
          migInstance: null,
          causedBy: null,
          message: "GPU has fallen off the bus and is not responding to commands (probe time)",
          raw: p.raw.join("\n"),
          printedTime: p.time,
          kmsgSeq: p.seq,
        });
        return out;
      }
      if (this.pendingFallen.raw.length >= 3 || !/NVRM:/.test(msg)) this.pendingFallen = null;
      else return out;
    }
    const probe = /NVRM: The NVIDIA GPU ([0-9a-fA-F:.]+)\s*$/.exec(msg);
    if (probe) {
      this.pendingFallen = { busId: normalizePciBusId(probe[1]), raw: [line.trim()], time, seq };
      return out;
    }
    const xid = XID_RE.exec(msg);
    if (xid) {
      const mig = xid[2]!.trim();
      const gi = /GPU-I:(\d+)/.exec(mig)?.[1];
      const ci = /GPU-CI:(\d+)/.exec(mig)?.[1];
      const pidText = xid[4]?.replace(/'/g, "");
      const name = xid[5]?.trim();
      const rest = xid[6]!;
      const caused = /caused by previous Xid (\d+)/.exec(rest);
      out.push({
        kind: "xid",
        code: Number(xid[3]),
        pciBusId: normalizePciBusId(xid[1]),
        pid: pidText && /^\d+$/.test(pidText) ? Number(pidText) : null,
        processName: name && name !== "<unknown>" ? name : null,
        migInstance: gi ? `GI ${Number(gi)}${ci ? ` CI ${Number(ci)}` : ""}` : null,
        causedBy: caused ? Number(caused[1]) : null,
        message: rest.trim(),
        raw: line.trim(),
        printedTime: time,
        kmsgSeq: seq,
      });
      return out;
    }
    const sxid = SXID_RE.exec(msg);
    // An SXid record is one headline ("Fatal, Link 48 …" / "Non-fatal, …") plus detail lines
    // ("Data {…}", "Severity 0 Engine …") that repeat the number; count the headline only.
    if (sxid && !/^(Data \{|Severity \d)/.test(sxid[4]!)) {
      out.push({
        kind: "sxid",
        code: Number(sxid[3]),
        pciBusId: normalizePciBusId(sxid[2]),
        pid: null,
        processName: null,
        migInstance: null,
        causedBy: null,
        message: `${sxid[1]}: ${sxid[4]!.trim()}`,
        raw: line.trim(),
        printedTime: time,
        kmsgSeq: seq,
      });
    }
    return out;
  }
}

export function parseKernelLog(text: string): KernelGpuError[] {
  const parser = new KernelLogParser();
  return text.split(/\r?\n/).flatMap((l) => (l.trim() === "" ? [] : parser.feed(l)));
}
