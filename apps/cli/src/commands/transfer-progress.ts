import { formatBytes, type TransferEvent } from "@podkit/core";
import cliProgress from "cli-progress";
import type { Output } from "../output.js";

export type ProgressMode = "tty" | "plain" | "json";

/**
 * Shows transfer events: a progress bar per file (bytes, rate, ETA) on a terminal, one plain line per
 * step otherwise, or one JSON object per line with `--json`.
 */
export class TransferProgress {
  private bar: cliProgress.SingleBar | null = null;
  private lastPlain = 0;

  constructor(
    private readonly mode: ProgressMode,
    private readonly output: Output,
    private readonly verb: "sending" | "receiving" = "receiving",
  ) {}

  handle(event: TransferEvent): void {
    if (this.mode === "json") {
      if (event.type === "progress" && Date.now() - this.lastPlain < 200 && event.bytes < event.size) return;
      this.lastPlain = Date.now();
      this.output.out(JSON.stringify(event));
      return;
    }
    switch (event.type) {
      case "file-start":
        this.startFile(event.name, event.size, event.resumedBytes);
        break;
      case "progress":
        if (this.bar) this.bar.update(event.bytes, barPayload(event.bytes, event.size, event.rate));
        else if (Date.now() - this.lastPlain > 2000) {
          this.lastPlain = Date.now();
          this.output.err(
            `${event.name}: ${formatBytes(event.bytes)} of ${formatBytes(event.size)} (${formatBytes(event.rate)}/s)`,
          );
        }
        break;
      case "file-done":
        this.stopBar();
        this.output.err(
          `${event.name}: ${event.skipped ? "already here, skipped" : `done (${formatBytes(event.size)})`}`,
        );
        break;
      case "done":
        this.stopBar();
        this.output.err(
          `transfer complete: ${event.files} file(s), ${formatBytes(event.bytes)} in ${event.seconds.toFixed(1)} s`,
        );
        break;
      case "connected":
        this.output.err(
          `connected (protocol generation ${event.generation.toUpperCase()}, via ${event.peer})`,
        );
        break;
      default:
        break;
    }
  }

  private startFile(name: string, size: number, resumed: number): void {
    this.stopBar();
    if (resumed > 0) this.output.err(`${name}: resuming, ${formatBytes(resumed)} already here`);
    if (this.mode !== "tty") {
      this.output.err(`${name}: ${this.verb} ${formatBytes(size)}`);
      this.lastPlain = Date.now();
      return;
    }
    this.bar = new cliProgress.SingleBar(
      {
        // {value}/{total} go through formatValue (bytes); rate and ETA come from the transfer's own
        // events, so a resumed file's ETA counts only the bytes still to come.
        format: `${name.length > 30 ? `…${name.slice(-29)}` : name} [{bar}] {percentage}% | {value}/{total} | {rate} | ETA {etaText}`,
        stream: process.stderr,
        hideCursor: true,
        formatValue: (v, _o, type) => (type === "value" || type === "total" ? formatBytes(v) : String(v)),
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(size, resumed, barPayload(resumed, size, 0));
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** The bar's rate and ETA fields: "-" until a rate is known. */
function barPayload(bytes: number, size: number, rate: number): { rate: string; etaText: string } {
  if (!(rate > 0)) return { rate: "-", etaText: bytes >= size ? "0s" : "-" };
  return { rate: `${formatBytes(rate)}/s`, etaText: formatEta((size - bytes) / rate) };
}

/** Seconds left as a terminal shows them: `42s`, `3m07s`, `2h05m`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
