import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { AgentMessage } from "@podkit/core";
import { fsyncDir } from "../state-files.js";

/**
 * The durable outbox: every report is a file on disk before anyone tries to send it, and it is
 * deleted only when the control plane acknowledges its id. File names sort in enqueue order
 * (`<time>-<counter>-<id>.json`); each is written to `tmp/`, fsynced and renamed in, so a
 * crash leaves either a whole message or none. Several processes may enqueue (the daemon and
 * `podkit agent burn-test`): the sender rescans the directory.
 */
export class Outbox {
  readonly dir: string;
  private readonly tmpDir: string;
  private counter = 0;
  /** id → file name, for the messages this process knows about. */
  private index = new Map<string, string>();
  /** File names in send order; may hold names already acked (skipped, compacted lazily). */
  private order: string[] = [];
  private orderDirty = false;

  constructor(dir: string) {
    this.dir = dir;
    this.tmpDir = join(dir, "tmp");
    mkdirSync(this.tmpDir, { recursive: true });
    this.rescan();
  }

  /** Re-read the directory (messages other processes enqueued). */
  rescan(): void {
    const index = new Map<string, string>();
    for (const name of readdirSync(this.dir)) {
      const m = /^\d+-\d+-(.+)\.json$/.exec(name);
      if (m) index.set(m[1]!, name);
    }
    this.index = index;
    this.orderDirty = true;
  }

  private sortedNames(): string[] {
    if (this.orderDirty || this.order.length > 2 * this.index.size + 64) {
      this.order = [...this.index.values()].sort();
      this.orderDirty = false;
    }
    return this.order;
  }

  get size(): number {
    return this.index.size;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Store a message durably. Enqueueing an id that is already waiting is a no-op (idempotent). */
  enqueue(message: AgentMessage, options: { sync?: boolean } = {}): void {
    if (this.index.has(message.id)) return;
    if (!/^[A-Za-z0-9_.:-]+$/.test(message.id))
      throw new Error(`message id ${JSON.stringify(message.id)} is not safe as a file name`);
    const name = `${String(Date.now()).padStart(15, "0")}-${String(process.pid * 1_000_000 + (this.counter++ % 1_000_000)).padStart(16, "0")}-${message.id}.json`;
    const tmp = join(this.tmpDir, name);
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(message));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
    if (options.sync !== false) fsyncDir(this.dir);
    this.index.set(message.id, name);
    this.orderDirty = true;
  }

  /** Store several messages with one directory fsync at the end (each file is still fsynced before its rename). */
  enqueueMany(messages: readonly AgentMessage[]): void {
    for (const m of messages) this.enqueue(m, { sync: false });
    fsyncDir(this.dir);
  }

  /** Waiting messages in enqueue order (at most `limit`). Unreadable files are skipped and reported. */
  peek(
    limit = Number.POSITIVE_INFINITY,
    skip: ReadonlySet<string> = new Set(),
  ): { messages: AgentMessage[]; unreadable: string[] } {
    const messages: AgentMessage[] = [];
    const unreadable: string[] = [];
    for (const name of this.sortedNames()) {
      if (messages.length >= limit) break;
      const id = /^\d+-\d+-(.+)\.json$/.exec(name)![1]!;
      if (this.index.get(id) !== name || skip.has(id)) continue;
      try {
        messages.push(JSON.parse(readFileSync(join(this.dir, name), "utf8")) as AgentMessage);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        unreadable.push(name);
      }
    }
    return { messages, unreadable };
  }

  /**
   * Remove acknowledged messages. Unknown ids (already removed, or never ours) are ignored.
   * No directory fsync here: if a crash undoes an unlink, the message is sent again with the same
   * id and the control plane acknowledges it without storing it twice.
   */
  ack(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      const name = this.index.get(id);
      if (!name) continue;
      try {
        unlinkSync(join(this.dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      this.index.delete(id);
      removed++;
    }
    return removed;
  }

  /** Move a message the control plane refused (nack) aside, so it is kept for inspection but not resent forever. */
  reject(id: string): void {
    const name = this.index.get(id);
    if (!name) return;
    const rejected = join(this.dir, "rejected");
    mkdirSync(rejected, { recursive: true });
    renameSync(join(this.dir, name), join(rejected, name));
    this.index.delete(id);
    fsyncDir(this.dir);
  }
}
