import { spawn } from "node:child_process";
import { closeSync, constants as fsConstants, openSync, readSync, statSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

/**
 * A kernel-log line and a position that names it stably: `kmsg:<seq>`, `file:<inode>.<generation>:<offset>`
 * or `journal:<line>:<n>`. The part before the last `:` is the stream; within a stream the number grows.
 */
export interface KernelLine {
  text: string;
  position: string;
}

export interface KernelLogSourceOptions {
  /** `/dev/kmsg` (default), any file fed by dmesg/syslog, or "journalctl" for `journalctl -k -f`. */
  path?: string;
  pollMs?: number;
  onLines: (lines: KernelLine[]) => void;
  onError?: (err: Error) => void;
}

/**
 * Follows the kernel log. `/dev/kmsg` hands out the ring buffer from boot, one record per read;
 * a regular file is polled from the last offset (and re-read from 0 if it shrank: rotated);
 * journald is read through `journalctl -k -f`.
 */
export class KernelLogFollower {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private stopStream: (() => void) | null = null;
  private offset = 0;
  /** File identity in positions: inode and how often it shrank (copytruncate), so offsets stay unique. */
  private fileId = "";
  private generation = 0;
  private partial = "";
  private readonly decoder = new StringDecoder("utf8");

  constructor(private readonly options: KernelLogSourceOptions) {}

  start(): void {
    const path = this.options.path ?? "/dev/kmsg";
    if (path === "journalctl") {
      this.followJournal();
      return;
    }
    let isFile = true;
    try {
      isFile = statSync(path).isFile();
    } catch (err) {
      this.options.onError?.(err as Error);
    }
    if (isFile) this.pollFile(path);
    else this.followDevice(path);
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopStream?.();
  }

  private emit(chunk: string, positionOf: (line: string, startOffset: number) => string, base: number): void {
    const text = this.partial + chunk;
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    const lines: KernelLine[] = [];
    let start = base;
    for (const p of parts) {
      lines.push({ text: p.replace(/\r$/, ""), position: positionOf(p, start) });
      start += Buffer.byteLength(p) + 1;
    }
    if (lines.length > 0) this.options.onLines(lines);
  }

  private pollFile(path: string): void {
    const tick = () => {
      if (this.stopped) return;
      try {
        const st = statSync(path);
        const size = st.size;
        if (this.fileId !== String(st.ino) || size < this.offset) {
          if (this.fileId === String(st.ino)) this.generation++;
          else this.generation = 0;
          this.fileId = String(st.ino);
          this.offset = 0;
          this.partial = "";
        }
        if (size > this.offset) {
          const fd = openSync(path, "r");
          try {
            const buf = Buffer.alloc(Math.min(size - this.offset, 4 * 1024 * 1024));
            const n = readSync(fd, buf, 0, buf.length, this.offset);
            const lineStart = this.offset - Buffer.byteLength(this.partial);
            this.offset += n;
            this.emit(
              this.decoder.write(buf.subarray(0, n)),
              (_l, start) => `file:${this.fileId}.${this.generation}:${start}`,
              lineStart,
            );
          } finally {
            closeSync(fd);
          }
        }
      } catch (err) {
        this.options.onError?.(err as Error);
      }
      this.timer = setTimeout(tick, this.options.pollMs ?? 1000);
    };
    tick();
  }

  /**
   * `/dev/kmsg` read without blocking: a blocking read would sit in libuv's thread pool until the
   * next kernel message, and such a read cannot be cancelled, so `close()` (and with it SIGTERM,
   * `systemctl stop`) would wait for the kernel to log something. Each read returns one record;
   * EAGAIN means "nothing new": drain, then look again after `pollMs`.
   */
  private followDevice(path: string): void {
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      this.options.onError?.(err as Error);
      return;
    }
    // A kmsg record is at most ~8 KiB (the kernel refuses a smaller buffer with EINVAL).
    const buf = Buffer.alloc(16 * 1024);
    const positionOf = (line: string) => `kmsg:${/^\d+,(\d+),/.exec(line)?.[1] ?? line}`;
    const tick = () => {
      if (this.stopped) return;
      const records: string[] = [];
      for (let i = 0; i < 1000; i++) {
        try {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          records.push(buf.toString("utf8", 0, n));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "EAGAIN") break;
          // EPIPE: records were overwritten before we read them; the next read goes on after the gap.
          if (code === "EPIPE") continue;
          this.options.onError?.(err as Error);
          break;
        }
      }
      if (records.length > 0) this.emit(records.join(""), positionOf, 0);
      this.timer = setTimeout(tick, this.options.pollMs ?? 250);
    };
    this.stopStream = () => closeSync(fd);
    tick();
  }

  private followJournal(): void {
    const child = spawn("journalctl", ["-k", "-f", "-b", "-o", "short-iso", "--no-pager"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const seen = new Map<string, number>();
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) =>
      this.emit(
        chunk,
        (line) => {
          const n = (seen.get(line) ?? 0) + 1;
          seen.set(line, n);
          return `journal:${line}:${n}`;
        },
        0,
      ),
    );
    child.on("error", (err) => this.options.onError?.(err));
    this.stopStream = () => child.kill();
  }
}
